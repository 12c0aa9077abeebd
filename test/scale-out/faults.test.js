// Faults a deployment meets, on a real cluster of three server processes sharing one store and one Redis,
// with writers on every instance (test/helpers/faults.js). Each test ends by killing every server and every
// client at once, then reads the store as a fresh process without Redis would: every edit a SyncStatus
// acknowledged is there, and the log leaves no pending structs. Audits while the cluster runs check the same
// at every moment a crash could have come.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as prng from 'lib0/prng'
import { faults, startFaultRun } from '../helpers/faults.js'
import { redisMissing } from '../helpers/redis.js'
import { synced } from '../helpers/server.js'
import { untilDocs, when, waitFor } from '../helpers/wait.js'

const skip = redisMissing()
// Short enough that a paused owner loses its lease within the test; long enough for a loaded 2-core machine.
const env = { HEARTBEAT_INTERVAL: '100', HEARTBEAT_TIMEOUT: '1000', LEASE_MS: '2000' }
const stores = ['sqlite', 'postgres']

/** Asserts that nothing acknowledged was lost, at any audit or at the end, and that the run was not vacuous. */
function assertNothingLost (t, result, { minimumAcked = 60 } = {}) {
  t.diagnostic(`acknowledged ${result.acked} of ${result.typed} typed; ${result.audits} audits`)
  assert.deepEqual(result.violations, [], 'every audit found every edit acknowledged before it in the store')
  assert.deepEqual(result.missing, [], 'every acknowledged edit is in the store after every process was killed')
  assert.deepEqual(result.pending, [], 'the stored log leaves no pending structs')
  assert.ok(result.acked >= minimumAcked, `enough edits were acknowledged for the check to mean something (${result.acked})`)
  assert.ok(result.audits >= 3, `audits ran while the cluster did (${result.audits})`)
}

test('kill -9 of Redis, restarted empty on the same port: every owner steps down, the store issues higher epochs, nothing acknowledged is lost', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { env })
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await run.cluster.redis.kill()
  await run.cluster.redis.start()
  await run.acknowledgedMore(30, { what: 'typing to go on after Redis came back' })
  assertNothingLost(t, await run.killAll())
})

for (const store of stores) {
  test(`FLUSHALL, then a client on another instance opens the document before the owner renews (${store}): it claims with a higher epoch, the old owner's next write is fenced and it steps down, nothing acknowledged is lost`, { skip, timeout: 90_000 }, async (t) => {
    // Renewals every 5 s: the old owner keeps believing it owns the document long after Redis forgot it.
    const run = await startFaultRun(t, { store, env: { ...env, LEASE_MS: '20000' } })
    if (run === null) return
    const owner = await run.ownerOf('doc')
    run.startTyping()
    run.startAudits()
    await run.acknowledgedMore(20)
    const admin = await run.cluster.redis.client(t)
    await admin.flushAll()
    const other = run.nodes.find((node) => node !== owner)
    const newcomer = other.clients.hocus('doc')
    await synced(newcomer, 10_000)
    // Its heartbeat is back in Redis within HEARTBEAT_INTERVAL: until then nobody counts as the live owner.
    await waitFor(async () => await other.ownerOf('doc') === other.instanceId, { what: 'the newcomer\'s instance to own the free lease' })
    await owner.logged((line) => /stepping down/.test(line.msg ?? ''), 'the old owner stepping down', 10_000)
    await run.acknowledgedMore(30, { what: 'typing to go on with one owner' })
    assertNothingLost(t, await run.killAll())
  })
}

test('CLIENT KILL of every subscriber: the sessions that cross instances reset and resync, nothing acknowledged is lost', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { env })
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  const admin = await run.cluster.redis.client(t)
  await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
  await run.acknowledgedMore(30, { what: 'typing to go on after the subscribers came back' })
  const resets = run.nodes.flatMap((node) => node.logs.filter((line) => /resetting/.test(line.msg ?? '')))
  assert.ok(resets.length > 0, 'the doubt reset the cross-instance sessions')
  assertNothingLost(t, await run.killAll())
})

for (const store of stores) {
  test(`kill -9 of the owner (${store}): another instance takes over at once, its clients move, nothing acknowledged is lost`, { skip, timeout: 90_000 }, async (t) => {
    // A heartbeat far longer than the test: the owner's death must be seen from publishes that reach nobody.
    const run = await startFaultRun(t, { store, env: { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '60000', LEASE_MS: '120000' } })
    if (run === null) return
    const owner = await run.ownerOf('doc')
    run.startTyping()
    run.startAudits()
    await run.acknowledgedMore(20)
    const killedAt = Date.now()
    await owner.kill('SIGKILL')
    run.moveClients(owner)
    await run.acknowledgedMore(30, { timeout: 20_000, what: 'typing to go on long before the 60 s heartbeat timeout' })
    t.diagnostic(`failover: typing acknowledged again ${Date.now() - killedAt} ms after the kill`)
    assertNothingLost(t, await run.killAll())
  })
}

test('kill -9 of an edge: its clients move, the owner drops its sessions, nothing acknowledged is lost', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { env })
  const owner = await run.ownerOf('doc')
  const edge = run.nodes.find((node) => node !== owner)
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await edge.kill('SIGKILL')
  run.moveClients(edge)
  await run.acknowledgedMore(30)
  assertNothingLost(t, await run.killAll())
})

for (const store of stores) {
  test(`SIGSTOP of the owner past its lease while others type, then SIGCONT (${store}): another instance owns the document, the old owner steps down before it answers anything, nothing acknowledged is lost`, { skip, timeout: 90_000 }, async (t) => {
    const run = await startFaultRun(t, { store, env })
    if (run === null) return
    const owner = await run.ownerOf('doc')
    run.startTyping()
    run.startAudits()
    await run.acknowledgedMore(20)
    // Paused between writes: SQLite's write lock belongs to the process that writes (see the README).
    if (store === 'sqlite') await run.quiesce()
    owner.child.kill('SIGSTOP')
    run.startTyping()
    const others = run.typists.filter((typist) => typist.node !== owner)
    const targets = others.map((typist) => typist.ledger.acked.size + 30)
    await waitFor(() => others.every((typist, i) => typist.ledger.acked.size >= targets[i]), { timeout: 30_000, what: 'the other instances to go on without the paused owner' })
    const newOwner = await run.ownerOf('doc')
    assert.notEqual(newOwner, owner, 'another instance owns the document')
    owner.child.kill('SIGCONT')
    await owner.logged((line) => /stepping down/.test(line.msg ?? ''), 'the old owner stepping down')
    await run.acknowledgedMore(20, { what: 'every writer, the paused instance\'s too, to go on' })
    assertNothingLost(t, await run.killAll())
  })
}

test('SIGSTOP of the owner past its lease, a takeover that ended before SIGCONT: the old owner sends its clients nothing from its stale copy, and they see the acknowledged edit without anyone writing', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { env, count: 2, watchers: 0 })
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

  a.child.kill('SIGSTOP')
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
  a.child.kill('SIGCONT')
  const [event] = await closed
  assert.equal(event.code, 4205, 'A resets its reader (Reset Connection): it resyncs from the store')
  assert.deepEqual(stale, [], 'A sent nothing from its stale copy')
  await seen
  const newcomer = b.clients.yws('doc')
  await synced(newcomer, 10_000)
  assert.ok(newcomer.doc.getArray('items').toArray().includes(visitorEdit), 'a new client on B sees it too')
  assertNothingLost(t, await run.killAll(), { minimumAcked: 20 })
})

test('PostgreSQL restart -m immediate (a crash and recovery) under load: writes wait and retry, nothing acknowledged is lost', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { store: 'postgres', env })
  if (run === null) return
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await run.cluster.postgres.restart({ mode: 'immediate' })
  await run.acknowledgedMore(30, { what: 'typing to go on after PostgreSQL recovered' })
  assertNothingLost(t, await run.killAll())
})

for (const store of stores) {
  test(`a seeded random schedule of faults (${store}): every client converges, nothing acknowledged is lost`, { skip, timeout: 120_000 }, async (t) => {
    const seed = Number(process.env.FAULT_SEED ?? 20261207)
    const kinds = Object.keys(faults).filter((kind) => store === 'postgres' || kind !== 'postgres-restart')
    const random = prng.create(seed)
    const schedule = Array.from({ length: 4 }, () => prng.oneOf(random, kinds))
    t.diagnostic(`seed ${seed} (FAULT_SEED): ${schedule.join(', ')}`)
    const run = await startFaultRun(t, { store, env, documents: ['doc', 'other'] })
    if (run === null) return
    const admin = await run.cluster.redis.client(t)
    run.startTyping()
    run.startAudits()
    await run.acknowledgedMore(10)
    for (const kind of schedule) {
      await faults[kind](run, admin)
      run.startTyping()
      await run.acknowledgedMore(15, { what: `typing to go on after ${kind}` })
    }
    run.stopTyping()
    const docs = [...run.typists, ...run.watchers].map((client) => client.doc)
    await untilDocs(docs, () => run.converged(), { timeout: 30_000, what: 'every client of each document to converge' })
    assertNothingLost(t, await run.killAll())
  })
}
