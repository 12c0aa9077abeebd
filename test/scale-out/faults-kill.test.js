// Processes that die (test/helpers/faults.js explains the harness): the owner, an edge, PostgreSQL.
import { test } from 'node:test'
import { assertNothingLost, startFaultRun } from '../helpers/faults.js'
import { missing, postgresServer, redisServer } from '../helpers/needs.js'

const skip = missing(redisServer)
const skipOn = (store) => store === 'postgres' ? missing(redisServer, postgresServer) : skip

const stores = ['sqlite', 'postgres']

for (const store of stores) {
  test(`kill -9 of the owner (${store}): another instance takes over at once, its clients move, nothing acknowledged is lost`, { skip: skipOn(store), timeout: 90_000 }, async (t) => {
    // A heartbeat far longer than the test: the owner's death must be seen from publishes that reach nobody.
    const run = await startFaultRun(t, { store, env: { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '60000', LEASE_MS: '120000' } })
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
  const run = await startFaultRun(t)
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

test('PostgreSQL restart -m immediate (a crash and recovery) under load: writes wait and retry, nothing acknowledged is lost', { skip: skipOn('postgres'), timeout: 90_000 }, async (t) => {
  const run = await startFaultRun(t, { store: 'postgres' })
  run.startTyping()
  run.startAudits()
  await run.acknowledgedMore(20)
  await run.cluster.postgres.restart({ mode: 'immediate' })
  await run.acknowledgedMore(30, { what: 'typing to go on after PostgreSQL recovered' })
  assertNothingLost(t, await run.killAll())
})
