// Drives the direct connections and the history of one instance of test/fixtures/cluster-server.js
// through its HTTP routes.
import assert from 'node:assert/strict'

/**
 * A JSON request to a route of a cluster instance.
 * @param {import('./cluster.js').ClusterNode} node
 * @param {string} method
 * @param {string} path
 * @param {object} [body] sent as JSON
 * @param {number} [timeout] ms for the whole exchange, default 15000
 * @returns {Promise<{ status: number, body: any }>} rejects after `timeout` ms, or when the instance cannot be reached.
 */
export async function request (node, method, path, body, timeout = 15_000) {
  const response = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeout)
  })
  return { status: response.status, body: await response.json() }
}

/**
 * Opens a direct connection on `node` with the context `{ user }`.
 * @returns {Promise<{ id: string, items: string[] }>} its id, and the items its document held once open.
 */
export async function openDirect (node, documentName, user) {
  const { status, body } = await request(node, 'POST', `/direct/${documentName}`, { user })
  assert.equal(status, 200, `the direct connection opened: ${JSON.stringify(body)}`)
  return body
}

/**
 * One transact through a direct connection, unshifting `item` into the Y.Array `items`.
 * @returns {Promise<{ ok: true } | { code: string, message: string }>} once it resolved, or what it rejected with.
 */
export async function transact (node, documentName, id, item) {
  return (await request(node, 'POST', `/direct/${documentName}/${id}/transact`, { item })).body
}

/** The items of version `id` of a document (an instance started with HISTORY=1 reads it). */
export async function versionItems (node, documentName, id) {
  const { status, body } = await request(node, 'GET', `/versions/${documentName}/${id}`)
  assert.equal(status, 200, `version ${id} was read: ${JSON.stringify(body)}`)
  return body.items
}
