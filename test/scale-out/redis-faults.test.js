import assert from 'node:assert/strict'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { SqliteStorage } from 'fastify-collab/sqlite'
import { startCluster } from '../helpers/cluster.js'
import { missing, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import { storedItems, typeAll, Typist } from '../helpers/typist.js'
import { untilDocs, waitFor } from '../helpers/wait.js'

const skip = missing(redisServer)
const env = { HEARTBEAT_INTERVAL: '100', HEARTBEAT_TIMEOUT: '500', LEASE_MS: '3000' }

const sqlitePath = (store) => store.slice('sqlite:'.length)
const sameItems = (docs) => new Set(docs.map(doc => JSON.stringify(doc.getArray('items').toArray().sort()))).size === 1

function fenceOf (store, documentName) {
  const db = new Database(sqlitePath(store), { readonly: true })
  try {
    return db.prepare('SELECT epoch FROM collab_fences WHERE document = ?').get(documentName)?.epoch ?? null
  } finally {
    db.close()
  }
}

async function typeOnEveryInstance (t, nodes, name) {
  const typists = nodes.map((node, i) => new Typist(`t${i}`, node.clients.hocus(name)))
  await Promise.all(typists.map(typist => synced(typist.provider)))
  return { typists, running: typeAll(t, typists) }
}

async function finish ({ typists, running }, name, store, nodes) {
  for (const typist of typists) typist.stop()
  await running
  const docs = typists.map(typist => typist.doc)
  await untilDocs(docs, () => sameItems(docs), { timeout: 20_000, what: 'convergence' })
  for (const node of nodes) await node.kill('SIGKILL')
  const storage = new SqliteStorage({ path: sqlitePath(store) })
  const items = await storedItems(storage, name)
  storage.close()
  for (const typist of typists) {
    assert.deepEqual([...typist.acked].filter(item => !items.has(item)), [], `every item ${typist.name} saw acknowledged is stored`)
  }
}

test('kill -9 of Redis and a restart empty on the same port: sessions recover, nothing acknowledged is lost, epochs only grow', { skip, timeout: 90_000 }, async (t) => {
  const { nodes, redis, store } = await startCluster(t, { env })
  const name = 'through-redis-loss'
  const typing = await typeOnEveryInstance(t, nodes, name)
  await waitFor(() => typing.typists.every(typist => typist.acked.size >= 20), { timeout: 30_000, what: '20 acknowledged items each' })
  const fenceBefore = fenceOf(store, name)
  await redis.kill()
  await redis.start()
  const targets = typing.typists.map(typist => typist.pushed.length + 20)
  await waitFor(() => typing.typists.every((typist, i) => typist.acked.size >= targets[i]), { timeout: 30_000, what: 'typing to go on after Redis came back' })
  // A new document after the restart gets an epoch above every fence the store holds.
  const fresh = nodes[1].clients.hocus('after-restart')
  await synced(fresh)
  assert.ok(fenceOf(store, name) >= fenceBefore, 'the document\'s fence never went down')
  assert.ok(fenceOf(store, 'after-restart') > fenceBefore, `a claim after the restart is above the old epochs (${fenceOf(store, 'after-restart')} > ${fenceBefore})`)
  await finish(typing, name, store, nodes)
})

test('a subscriber connection killed by Redis (CLIENT KILL TYPE pubsub): proxied sessions reset, everyone converges', { skip, timeout: 90_000 }, async (t) => {
  const { nodes, redis, store } = await startCluster(t, { env })
  const name = 'through-pubsub-kill'
  const typing = await typeOnEveryInstance(t, nodes, name)
  await waitFor(() => typing.typists.every(typist => typist.acked.size >= 20), { timeout: 30_000, what: '20 acknowledged items each' })
  const admin = await redis.client(t)
  await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
  const targets = typing.typists.map(typist => typist.pushed.length + 20)
  await waitFor(() => typing.typists.every((typist, i) => typist.acked.size >= targets[i]), { timeout: 30_000, what: 'typing to go on after the kill' })
  const resets = nodes.flatMap(node => node.logs.filter(line => /resetting/.test(line.msg ?? '')))
  assert.ok(resets.length > 0, 'the doubt reset the cross-instance sessions')
  await finish(typing, name, store, nodes)
})
