// Direct connections (`fastify.collab.openDirectConnection`) on an instance that does not own the document:
// a session on the owner, driven through the HTTP routes of test/fixtures/cluster-server.js, on real
// processes sharing a real redis-server and one SQLite file.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { test } from 'node:test'
import { startCluster } from '../helpers/cluster.js'
import { storeReader } from '../helpers/faults.js'
import { missing, redisServer } from '../helpers/needs.js'
import { acknowledged, synced } from '../helpers/server.js'
import { untilDocs, when } from '../helpers/wait.js'
import { openDirect, request, transact } from '../helpers/cluster-routes.js'

const skip = missing(redisServer)

test('a direct connection on an instance that does not own the document: it opens with what the owner acknowledged, a transact resolves once the owner stored it, and the owner\'s changes reach it', { skip, timeout: 60_000 }, async (t) => {
  const { nodes: [owner, edge], store } = await startCluster(t, { count: 2 })
  const reader = await storeReader(store)
  t.after(() => reader.close())
  const client = owner.clients.hocus('doc')
  await synced(client, 20_000)
  client.document.getArray('items').unshift(['typed on the owner'])
  await acknowledged(client)

  const { id, items } = await openDirect(edge, 'doc', 'ada')
  assert.equal(await edge.ownerOf('doc'), owner.instanceId, 'the edge opened it without claiming it')
  assert.deepEqual(items, ['typed on the owner'], 'open resolved with what the owner had acknowledged')

  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await transact(edge, 'doc', id, `direct ${i}`), { ok: true })
    // Read the store as soon as the transact resolved: nothing settles in between.
    const { items: stored } = await reader.read('doc')
    assert.ok(stored.has(`direct ${i}`), `direct ${i} was stored when its transact resolved`)
  }
  await untilDocs([client.document], () => client.document.getArray('items').length === 6, { what: 'the direct connection\'s changes on the owner\'s client' })
  const change = await owner.logged((line) => line.event === 'direct-change', 'the owner\'s onChange for a remote direct change')
  assert.deepEqual({ from: change.from, user: change.user }, { from: edge.instanceId, user: 'ada' }, 'the owner\'s hooks saw the direct connection\'s context and instance')

  client.document.getArray('items').unshift(['typed after the open'])
  const { status, body } = await request(edge, 'GET', `/direct/doc/${id}?includes=${encodeURIComponent('typed after the open')}`)
  assert.equal(status, 200, 'the owner\'s change reached the direct connection\'s document')
  assert.deepEqual(body.items, client.document.getArray('items').toArray())
  assert.deepEqual((await request(edge, 'DELETE', `/direct/doc/${id}`)).body, { ok: true })
})

test('a direct connection on an instance that does not own the document survives kill -9 of the owner: every transact acknowledged before and after it is in the store once every process is killed', { skip, timeout: 90_000 }, async (t) => {
  // A heartbeat far longer than the test: the owner's death is seen from publishes that reach nobody.
  const cluster = await startCluster(t, { env: { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '60000', LEASE_MS: '120000' } })
  const [owner, edge] = cluster.nodes
  const reader = await storeReader(cluster.store)
  t.after(() => reader.close())
  // A client on the owner opens the document first, so that the owner is the first instance.
  await synced(owner.clients.hocus('doc'), 20_000)
  const { id } = await openDirect(edge, 'doc', 'ada')
  const acked = []
  const progress = new EventEmitter()
  let typed = 0
  const stop = new AbortController()
  // One transact after another, as a server-side job would make them: each is counted once it resolved. The
  // one in flight when the processes are killed fails, uncounted.
  const typing = (async () => {
    while (!stop.signal.aborted) {
      const item = `direct ${typed++}`
      const answer = await transact(edge, 'doc', id, item).catch((error) => ({ code: error.message }))
      if (answer.ok) {
        acked.push(item)
        progress.emit('acked')
      } else if (!stop.signal.aborted) t.diagnostic(`${item}: ${answer.code}`)
    }
  })()
  await when(progress, 'acked', { check: () => acked.length >= 20, timeout: 20_000, what: '20 acknowledged transacts before the kill' })
  const killedAt = Date.now()
  await owner.kill('SIGKILL')
  const before = acked.length
  await when(progress, 'acked', { check: () => acked.length >= before + 20, timeout: 30_000, what: '20 acknowledged transacts after the kill' })
  t.diagnostic(`20 transacts acknowledged within ${Date.now() - killedAt} ms of the kill`)
  // The end: every process (the direct connection lives in one) is killed at once, mid-typing.
  stop.abort()
  await Promise.all(cluster.nodes.map((node) => node.kill('SIGKILL')))
  await typing
  const stored = await reader.read('doc')
  assert.deepEqual(acked.filter((item) => !stored.items.has(item)), [], 'every acknowledged transact is in the store')
  assert.equal(stored.pending, false, 'the stored log leaves no pending structs')
})
