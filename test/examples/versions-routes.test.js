import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, versionsRateLimit } from '../../examples/app.js'
import { tempDir } from '../helpers/cleanup.js'
import { acknowledged, connectClients, synced } from '../helpers/server.js'
import { untilDocs, within } from '../helpers/wait.js'

/** The demo app on 127.0.0.1 (a free port) over a fresh data folder, closed after the test. */
async function startDemo (t) {
  const app = await buildApp({ dataDir: tempDir(t, 'data'), logger: false })
  t.after(() => within(app.close(), { timeout: 10_000, what: 'the demo app to close' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const host = `127.0.0.1:${app.server.address().port}`
  /** One request to the versions routes of `document`; `path` follows `/versions`. */
  async function api (method, path, { document = 'notes', body, headers = {}, token = 'demo' } = {}) {
    const query = token === null ? '' : `${path.includes('?') ? '&' : '?'}token=${token}`
    const response = await fetch(`http://${host}/api/documents/${document}/versions${path}${query}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    })
    return { status: response.status, body: await response.json() }
  }
  return { app, host, api }
}

/** A Hocuspocus page of `document` on the demo's socket, as the demo page opens it (named by `?user=`). */
function pageOf (t, host, user, document = 'notes') {
  const clients = connectClients(`ws://${host}/collab/${document}?token=demo&user=${user}`)
  t.after(() => clients.destroyAll())
  const provider = clients.hocus(document)
  return { provider, text: provider.document.getText('codemirror') }
}

const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

test('the versions routes: create, list, get with its diff, restore; the authors are the sockets\' users and the restorer', async (t) => {
  const { host, api } = await startDemo(t)
  const alice = pageOf(t, host, 'Alice')
  await synced(alice.provider)
  assert.deepEqual(await api('GET', ''), { status: 200, body: { versions: [], next: null } })

  alice.text.insert(0, 'Hello.')
  await acknowledged(alice.provider)
  const created = await api('POST', '', { body: { label: 'greeting' } })
  assert.equal(created.status, 201)
  const first = created.body
  assert.match(first.time, isoTime)
  assert.deepEqual(first, { id: first.id, time: first.time, label: 'greeting', authors: ['Alice'], reason: 'manual', size: first.size })
  assert.ok(first.size > 0)

  alice.text.insert(6, ' More.')
  await acknowledged(alice.provider)
  const read = await api('GET', `/${first.id}`)
  assert.equal(read.status, 200)
  assert.deepEqual(read.body, {
    ...first,
    text: 'Hello.',
    diff: { changes: [{ type: 'equal', text: 'Hello.' }, { type: 'insert', text: ' More.' }], inserted: 6, deleted: 0, granularity: 'char' }
  })

  // Bob restores it through the API: Alice's page converges on the version's text.
  const restored = await api('POST', `/${first.id}/restore`, { body: { user: 'Bob' } })
  assert.equal(restored.status, 200)
  assert.deepEqual(restored.body.restored, first)
  const saved = restored.body.saved
  assert.deepEqual(saved, { id: saved.id, time: saved.time, label: null, authors: ['Alice'], reason: 'restore', size: saved.size })
  await untilDocs([alice.provider.document], () => alice.text.toString() === 'Hello.', { what: 'Alice to see the restored text' })
  assert.equal((await api('GET', `/${saved.id}`)).body.text, 'Hello. More.', 'the state the restore replaced is kept')

  // A body is optional: the restorer is the next version's author, and no label is a null one.
  const after = await api('POST', '', { body: undefined })
  assert.equal(after.status, 201)
  assert.deepEqual([after.body.label, after.body.authors], [null, ['Bob']])

  // Newest first, a page at a time.
  const all = await api('GET', '')
  assert.deepEqual(all.body, { versions: [after.body, saved, first], next: null })
  const pageOne = await api('GET', '?limit=2')
  assert.deepEqual(pageOne.body, { versions: [after.body, saved], next: saved.id })
  assert.deepEqual((await api('GET', `?limit=2&before=${pageOne.body.next}`)).body, { versions: [first], next: null })
  assert.deepEqual((await api('GET', '', { document: 'elsewhere' })).body, { versions: [], next: null })
})

test('the versions routes: 404 for a version the document lacks, 400 for what the schemas refuse, 403 for a foreign writer', async (t) => {
  const { host, api } = await startDemo(t)
  const made = await api('POST', '', { body: { label: 'only one' } })
  assert.equal(made.status, 201)
  const { id } = made.body

  const notFound = (document, missing) => ({ statusCode: 404, code: 'FST_COLLAB_HISTORY_NOT_FOUND', error: 'Not Found', message: `Document "${document}" has no version ${missing}` })
  assert.deepEqual(await api('GET', `/${id + 1}`), { status: 404, body: notFound('notes', id + 1) })
  assert.deepEqual(await api('POST', `/${id + 1}/restore`), { status: 404, body: notFound('notes', id + 1) })
  assert.deepEqual(await api('GET', `/${id}`, { document: 'other' }), { status: 404, body: notFound('other', id) }, 'a version of another document')

  const invalid = [
    ['GET', '?limit=0', undefined, 'querystring/limit must be >= 1'],
    ['GET', '?limit=101', undefined, 'querystring/limit must be <= 100'],
    ['GET', '?before=x', undefined, 'querystring/before must be integer'],
    ['GET', '/abc', undefined, 'params/id must be integer'],
    ['GET', '/0', undefined, 'params/id must be >= 1'],
    ['POST', '', { label: '' }, 'body/label must NOT have fewer than 1 characters'],
    ['POST', '', { label: 'x'.repeat(1001) }, 'body/label must NOT have more than 1000 characters'],
    ['POST', `/${id}/restore`, { user: 'x'.repeat(33) }, 'body/user must NOT have more than 32 characters']
  ]
  for (const [method, path, body, message] of invalid) {
    assert.deepEqual(await api(method, path, { body }), { status: 400, body: { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message } }, `${method} ${path}`)
  }
  const badName = await api('GET', '', { document: 'not%20a%20name' })
  assert.equal(badName.status, 400)
  assert.match(badName.body.message, /^params\/document must match pattern/)

  // Writes need what the socket needs: the page's own origin, or no Origin and the token.
  const forbidden = { status: 403, body: { statusCode: 403, code: 'DEMO_VERSIONS_FORBIDDEN', error: 'Forbidden', message: 'Not allowed to change the versions of document "notes"' } }
  assert.deepEqual(await api('POST', '', { token: null }), forbidden, 'no Origin, no token')
  assert.deepEqual(await api('POST', '', { token: 'wrong' }), forbidden, 'a wrong token')
  assert.deepEqual(await api('POST', `/${id}/restore`, { headers: { origin: 'http://evil.example' } }), forbidden, 'a foreign Origin, even with the token')
  assert.equal((await api('POST', '', { token: null, headers: { origin: `http://${host}` } })).status, 201, 'the page\'s own origin')
  assert.equal((await api('GET', '', { token: null })).status, 200, 'reading needs nothing')
})

test('the versions routes that diff or write: past versionsRateLimit a client gets 429 with Retry-After', async (t) => {
  const { host, api } = await startDemo(t)
  const { id } = (await api('POST', '', { body: {} })).body
  for (let i = 0; i < versionsRateLimit.max; i++) assert.equal((await api('GET', `/${id}`)).status, 200, `request ${i + 1} of ${versionsRateLimit.max}`)
  const limited = await fetch(`http://${host}/api/documents/notes/versions/${id}`, { signal: AbortSignal.timeout(10_000) })
  assert.equal(limited.status, 429)
  assert.ok(Number(limited.headers.get('retry-after')) > 0, `Retry-After: ${limited.headers.get('retry-after')}`)
  assert.equal((await limited.json()).statusCode, 429)
  assert.equal((await api('GET', '')).status, 200, 'the list is not limited')
})
