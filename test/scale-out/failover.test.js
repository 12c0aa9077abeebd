import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startCluster } from '../helpers/cluster.js'
import { missing, postgresServer, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import { typeAll, Typist } from '../helpers/typist.js'
import { untilDocs, waitFor } from '../helpers/wait.js'

// A heartbeat far longer than the test: the owner's death must be seen from the publishes that reach nobody.
const env = { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '60000', LEASE_MS: '120000' }
const items = doc => JSON.stringify(doc.getArray('items').toArray().sort())

for (const store of ['sqlite', 'postgres']) {
  test(`kill -9 of the owner mid-stream (${store}): another instance takes over, every client converges, nothing acknowledged is lost`, { skip: missing(redisServer, store === 'postgres' && postgresServer), timeout: 90_000 }, async (t) => {
    const cluster = await startCluster(t, { env, store })
    const [owner, b, c] = cluster.nodes
    const name = 'stream'
    const first = new Typist('a', owner.clients.hocus(name))
    await synced(first.provider)
    assert.equal(await b.ownerOf(name), owner.instanceId)
    const typists = [first, new Typist('b', b.clients.hocus(name)), new Typist('c', c.clients.hocus(name))]
    const watcher = c.clients.yws(name)
    await Promise.all([...typists.slice(1).map(typist => synced(typist.provider)), synced(watcher)])

    const running = typeAll(t, typists)
    await waitFor(() => typists.every(typist => typist.acked.size >= 30), { timeout: 30_000, what: '30 acknowledged items per typist' })
    const killedAt = Date.now()
    await owner.kill('SIGKILL')
    // The killed instance's clients come back through another instance, as behind a load balancer.
    first.moveTo(b.clients)

    await waitFor(async () => [b.instanceId, c.instanceId].includes(await b.ownerOf(name)), { timeout: 10_000, interval: 20, what: 'a new owner' })
    t.diagnostic(`failover: a new owner ${Date.now() - killedAt} ms after the kill`)
    const targets = typists.map(typist => typist.pushed.length + 30)
    await waitFor(() => typists.every((typist, i) => typist.acked.size >= targets[i]), { timeout: 30_000, what: 'typing to go on after the failover' })
    const resumed = Date.now() - killedAt
    t.diagnostic(`failover: typing acknowledged again ${resumed} ms after the kill`)
    assert.ok(resumed < 30_000, 'the takeover did not wait for the 60 s heartbeat timeout')
    for (const typist of typists) typist.stop()
    await running

    const docs = [...typists.map(typist => typist.doc), watcher.doc]
    await untilDocs(docs, () => new Set(docs.map(items)).size === 1, { timeout: 20_000, what: 'convergence, y-websocket included' })

    // Read back as a fresh process without Redis would.
    for (const node of cluster.nodes) await node.kill('SIGKILL')
    const stored = await cluster.storedItems(name)
    for (const typist of typists) {
      const missing = [...typist.acked].filter(item => !stored.has(item))
      assert.deepEqual(missing, [], `every item ${typist.name} saw acknowledged is stored (${typist.acked.size} acknowledged)`)
    }
  })
}
