// The history with scale-out: versions made and restored from an instance that does not own the document
// (its owner runs them), and fenced like every write. Real processes (test/fixtures/cluster-server.js with
// HISTORY=1), a real redis-server, one SQLite file; Hocuspocus typists whose edits count as acknowledged
// only when a SyncStatus answered them (test/helpers/ledger.js).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startCluster } from '../helpers/cluster.js'
import { faultEnv, startFaultRun, storeReader } from '../helpers/faults.js'
import { missing, redisServer } from '../helpers/needs.js'
import { acknowledged, synced } from '../helpers/server.js'
import { untilDocs, waitFor } from '../helpers/wait.js'
import { request, versionItems } from '../helpers/cluster-routes.js'

const skip = missing(redisServer)

/** Every edit the typists of `run` had acknowledged so far. */
function ackedItems (run) {
  return run.typists.flatMap((typist) => [...typist.ledger.acked])
}

test('restore from an instance that does not own the document while clients on all three instances type: every client converges on the restored content plus what was typed after, the state before is kept as a version, and the store holds the same', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { watchers: 0, env: { ...faultEnv, HISTORY: '1' } })
  const owner = await run.ownerOf('doc')
  const [creator, restorer] = run.nodes.filter((node) => node !== owner)
  run.startTyping()
  await run.acknowledgedMore(5)
  const created = await request(creator, 'POST', '/versions/doc', { label: 'before', user: 'ada' })
  assert.equal(created.status, 200, `a version was made from an instance that does not own the document: ${JSON.stringify(created.body)}`)
  const version = await versionItems(creator, 'doc', created.body.id)
  assert.ok(version.length >= 5, 'the version holds what was typed before it')
  await run.acknowledgedMore(5, { what: 'edits after the version' })

  const ackedBefore = ackedItems(run)
  const restored = await request(restorer, 'POST', `/versions/doc/${created.body.id}/restore`, { user: 'grace' })
  assert.equal(restored.status, 200, `the restore ran from an instance that does not own the document: ${JSON.stringify(restored.body)}`)
  assert.equal(restored.body.restored.id, created.body.id)
  assert.equal(restored.body.saved.reason, 'restore')
  const saved = new Set(await versionItems(restorer, 'doc', restored.body.saved.id))
  assert.deepEqual(ackedBefore.filter((item) => !saved.has(item)), [], 'the state before the restore, kept as a version, holds every edit acknowledged before it was asked')

  await run.acknowledgedMore(5, { what: 'edits after the restore' })
  const ackedAfterRestore = ackedItems(run).filter((item) => !saved.has(item))
  await run.quiesce()
  await untilDocs([...run.typists, ...run.watchers].map((client) => client.doc), () => run.converged(), { timeout: 20_000, what: 'every client to converge' })
  const final = run.typists[0].doc.getArray('items').toArray()
  const inVersion = new Set(version)
  assert.deepEqual(version.filter((item) => !final.includes(item)), [], 'the restored content is back')
  assert.deepEqual(final.filter((item) => !inVersion.has(item) && saved.has(item)), [], 'what the restore replaced is gone: every other item was typed after it')
  assert.deepEqual(ackedAfterRestore.filter((item) => !final.includes(item)), [], 'the edits typed after the restore are kept')
  const diff = await request(creator, 'GET', `/versions/doc/${created.body.id}/diff`)
  assert.deepEqual(diff.body.roots, [{ name: 'items', kind: 'array', changed: true }], 'an instance that does not own the document compares a version with the document as it is now')
  const reasons = Object.fromEntries((await request(owner, 'GET', '/versions/doc')).body.map((info) => [info.id, [info.reason, info.label]]))
  assert.deepEqual(reasons[created.body.id], ['manual', 'before'], 'the owner lists the version made on demand')
  assert.deepEqual(reasons[restored.body.saved.id], ['restore', null], 'and the one the restore kept')

  await run.killAll()
  const stored = await run.reader.read('doc')
  assert.deepEqual([...stored.items].sort(), [...final].sort(), 'a fresh process loading the store, once every process was killed, sees what the clients converged on')
  assert.equal(stored.pending, false)
})

test('a deposed owner cannot restore: after another instance claimed the document with a higher epoch, the old owner\'s restore is fenced and changes nothing', { skip, timeout: 60_000 }, async (t) => {
  // The first renewal 150 s after an instance starts: the old owner believes it owns the document all along.
  const cluster = await startCluster(t, { count: 2, env: { ...faultEnv, LEASE_MS: '600000', HISTORY: '1' } })
  const [old, next] = cluster.nodes
  const reader = await storeReader(cluster.store)
  t.after(() => reader.close())
  const first = old.clients.hocus('doc')
  await synced(first, 20_000)
  first.document.getArray('items').unshift(['a'])
  await acknowledged(first)
  const created = await request(old, 'POST', '/versions/doc', { label: 'only a' })
  assert.equal(created.status, 200, JSON.stringify(created.body))
  first.document.getArray('items').unshift(['b'])
  await acknowledged(first)

  const admin = await cluster.redis.client(t)
  await admin.flushAll()
  const second = next.clients.hocus('doc')
  await synced(second, 10_000)
  await waitFor(async () => await next.ownerOf('doc') === next.instanceId, { what: 'the other instance to own the free lease' })

  const restored = await request(old, 'POST', `/versions/doc/${created.body.id}/restore`, { user: 'grace' })
  assert.equal(restored.body.code, 'FST_COLLAB_STORAGE_FENCED', `the deposed owner's restore was refused: ${JSON.stringify(restored.body)}`)
  const stored = await reader.read('doc')
  assert.deepEqual([...stored.items].sort(), ['a', 'b'], 'the store holds what it held before')
  assert.deepEqual(first.document.getArray('items').toArray(), ['b', 'a'], 'the old owner changed nothing: its clients see no restore')
  assert.deepEqual(second.document.getArray('items').toArray(), ['b', 'a'], 'nor do the new owner\'s')
  const versions = (await request(next, 'GET', '/versions/doc')).body
  assert.deepEqual(versions.filter((info) => info.reason === 'restore'), [], 'no version of the state before was stored')
})
