// An owner paused past its lease (test/helpers/faults.js explains the harness): a takeover under way, and one that ended.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertNothingLost, startFaultRun } from '../helpers/faults.js'
import { missing, postgresServer, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import { when, waitFor } from '../helpers/wait.js'

const skip = missing(redisServer)
const skipOn = (store) => store === 'postgres' ? missing(redisServer, postgresServer) : skip

const stores = ['sqlite', 'postgres']

for (const store of stores) {
  test(`SIGSTOP of the owner past its lease while others type, then SIGCONT (${store}): another instance owns the document, the old owner steps down before it answers anything, nothing acknowledged is lost`, { skip: skipOn(store), timeout: 90_000 }, async (t) => {
    const run = await startFaultRun(t, { store })
    const owner = await run.ownerOf('doc')
    run.startTyping()
    run.startAudits()
    await run.acknowledgedMore(20)
    // Paused between writes: SQLite's write lock belongs to the process that writes (see docs/storage.md, "Several processes on one file").
    if (store === 'sqlite') await run.quiesce()
    owner.pause()
    run.startTyping()
    const others = run.typists.filter((typist) => typist.node !== owner)
    const targets = others.map((typist) => typist.ledger.acked.size + 30)
    await waitFor(() => others.every((typist, i) => typist.ledger.acked.size >= targets[i]), { timeout: 30_000, what: 'the other instances to go on without the paused owner' })
    const newOwner = await run.ownerOf('doc')
    assert.notEqual(newOwner, owner, 'another instance owns the document')
    owner.resume()
    await owner.logged((line) => /stepping down/.test(line.msg ?? ''), 'the old owner stepping down')
    await run.acknowledgedMore(20, { what: 'every writer, the paused instance\'s too, to go on' })
    assertNothingLost(t, await run.killAll())
  })
}

test('SIGSTOP of the owner past its lease, a takeover that ended before SIGCONT: the old owner sends its clients nothing from its stale copy, and they see the acknowledged edit without anyone writing', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { count: 2, watchers: 0 })
  const [a, b] = run.nodes
  // Only A's clients stay: a writer (counted) and a y-websocket reader. B's writer leaves first.
  const bTypist = run.typists.find((typist) => typist.node === b)
  b.clients.drop(bTypist.provider)
  run.typists.splice(run.typists.indexOf(bTypist), 1)
  // A reader that never writes: everything it gets comes from A.
  const reader = a.clients.yws('doc')
  await Promise.all([run.allSynced(), synced(reader)])
  assert.equal(await a.ownerOf('doc'), a.instanceId)
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await run.quiesce()
  await waitFor(() => reader.doc.getArray('items').length === run.typists[0].typed.length, { what: 'the reader to have every edit' })

  a.pause()
  const admin = await run.cluster.redis.client(t)
  await waitFor(async () => await admin.pTTL('fastify-collab:lease:doc') === -2, { timeout: 10_000, what: 'the paused owner\'s lease to lapse' })
  // B takes over, a writer there is acknowledged and leaves; B stores, unloads and gives the lease back.
  const visitor = run.addTypist(b, 'doc')
  await synced(visitor.provider, 10_000)
  visitor.type()
  await waitFor(() => visitor.ledger.acked.size === 1, { what: 'the visitor\'s edit to be acknowledged' })
  b.clients.drop(visitor.provider)
  await b.logged((line) => line.event === 'unloaded' && line.documentName === 'doc', 'B to unload the document')
  await waitFor(async () => await admin.pTTL('fastify-collab:lease:doc') === -2, { what: 'B to give the lease back' })

  // Whatever A sends its reader before it resets it would come from the stale copy.
  const stale = []
  reader.ws.on('message', (data) => stale.push(data))
  const [visitorEdit] = visitor.ledger.acked
  const seen = when(reader.doc, 'update', { check: () => reader.doc.getArray('items').toArray().includes(visitorEdit), timeout: 15_000, what: 'A\'s reader to see B\'s acknowledged edit' })
  const closed = when(reader, 'connection-close', { timeout: 15_000, what: 'A to reset its reader' })
  a.resume()
  const [event] = await closed
  assert.equal(event.code, 4205, 'A resets its reader (Reset Connection): it resyncs from the store')
  assert.deepEqual(stale, [], 'A sent nothing from its stale copy')
  await seen
  const newcomer = b.clients.yws('doc')
  await synced(newcomer, 10_000)
  assert.ok(newcomer.doc.getArray('items').toArray().includes(visitorEdit), 'a new client on B sees it too')
  assertNothingLost(t, await run.killAll(), { minimumAcked: 20 })
})
