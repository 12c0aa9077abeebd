// Faults of Redis (test/helpers/faults.js explains the harness): its data lost, its subscribers killed.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertNothingLost, faultEnv, startFaultRun } from '../helpers/faults.js'
import { missing, postgresServer, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const skip = missing(redisServer)
const skipOn = (store) => store === 'postgres' ? missing(redisServer, postgresServer) : skip

const stores = ['sqlite', 'postgres']

test('kill -9 of Redis, restarted empty on the same port: every owner steps down, the store issues higher epochs, nothing acknowledged is lost', { skip, timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t)
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await run.cluster.redis.kill()
  await run.cluster.redis.start()
  await run.acknowledgedMore(30, { what: 'typing to go on after Redis came back' })
  assertNothingLost(t, await run.killAll())
})

for (const store of stores) {
  test(`FLUSHALL, then a client on another instance opens the document before the owner renews (${store}): it claims with a higher epoch, the old owner's next write is fenced and it steps down, nothing acknowledged is lost`, { skip: skipOn(store), timeout: 90_000 }, async (t) => {
    // Renewals every 5 s: the old owner keeps believing it owns the document long after Redis forgot it.
    const run = await startFaultRun(t, { store, env: { ...faultEnv, LEASE_MS: '20000' } })
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
  const run = await startFaultRun(t)
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
