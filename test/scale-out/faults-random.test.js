// A seeded random schedule of every fault (test/helpers/faults.js explains the harness); FAULT_SEED picks another.
import { test } from 'node:test'
import * as prng from 'lib0/prng'
import { assertNothingLost, faults, startFaultRun } from '../helpers/faults.js'
import { missing, postgresServer, redisServer } from '../helpers/needs.js'
import { untilDocs } from '../helpers/wait.js'

const skip = missing(redisServer)
const skipOn = (store) => store === 'postgres' ? missing(redisServer, postgresServer) : skip

const stores = ['sqlite', 'postgres']

for (const store of stores) {
  test(`a seeded random schedule of faults (${store}): every client converges, nothing acknowledged is lost`, { skip: skipOn(store), timeout: 120_000 }, async (t) => {
    const seed = Number(process.env.FAULT_SEED ?? 20261207)
    const kinds = Object.keys(faults).filter((kind) => store === 'postgres' || kind !== 'postgres-restart')
    const random = prng.create(seed)
    const schedule = Array.from({ length: 4 }, () => prng.oneOf(random, kinds))
    t.diagnostic(`seed ${seed} (FAULT_SEED): ${schedule.join(', ')}`)
    const run = await startFaultRun(t, { store, documents: ['doc', 'other'] })
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
