// Issue 8: the Redis scale-out, beside @hocuspocus/server 4.7 with
// @hocuspocus/extension-redis 4.7 on the same harness and the same Redis.
//
//   node bench/scale-out.js            the full run (a few minutes); prints markdown tables
//   node bench/scale-out.js --quick    small sizes, one round
//   node bench/scale-out.js --rounds 1 the full sizes, one round (one run per load in the throughput search)
//   node bench/scale-out.js --only cost,latency,fanout,failover,throughput
//
// Every measurement starts a fresh redis-server and fresh server processes, all
// pinned to core 0 (taskset), the load generator on core 1. Three servers and
// Redis on one core say nothing of throughput: the tables give per-update costs,
// latencies and ratios. The exception is `throughput` (issue 17 §5): one
// instance on core 0 against two instances on cores 0 and 1, the load
// generator and Redis on the other core or on both (this machine has two),
// their CPU shares reported. Results go to bench/results/scale-out.json.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from 'redis'
import { freePort } from '../test/helpers/ports.js'
import { RedisServer } from '../test/helpers/redis.js'
import { redisHops } from './lib/redis-hops.js'
import { makeClient, runFanout, documentOf } from './collab.js'
import { lockstepSearch, passes } from './capacity.js'
import { alternate } from './lib/rounds.js'
import { pinLoadGenerator, CLIENT_CORE, SERVER_CORE, startServer } from './lib/server-process.js'
import { median, pool, withTimeout } from './lib/stats.js'
import { typingUpdates } from './lib/updates.js'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' }
  }
})

export const systems = {
  ours: { module: 'collab-ours', protocol: 'hocuspocus', label: 'fastify-collab + scale-out (SQLite store)', options: (redis, dir) => ({ redis, sqlite: dir }) },
  'ours-single': { module: 'collab-ours', protocol: 'hocuspocus', label: 'fastify-collab, one instance (SQLite store)', options: (_redis, dir) => ({ sqlite: dir }) },
  hocuspocus: { module: 'collab-hocuspocus4-redis', protocol: 'hocuspocus', label: '@hocuspocus/server 4.7 + extension-redis 4.7 (no store)', options: (redis) => ({ redis }) }
}

const plans = {
  full: {
    cost: { rounds: 3, sizes: [1, 2, 3], idleMs: 3000, low: { count: 200, interval: 20 }, load: { count: 3000, batch: 50 }, timeoutMs: 60000 },
    latency: { rounds: 3, count: 500, interval: 10, timeoutMs: 60000 },
    fanout: { rounds: 3, sizes: [128, 384], count: 100, interval: 20, timeoutMs: 120000 },
    failover: { rounds: 3, clients: 30, timeoutMs: 30000 },
    // Issue 17 §5: 200 documents × 4 clients, each client on the instance a load balancer hashing the
    // document picks; the largest load (updates/s, all clients together) kept in real time, by search.
    throughput: { repeats: 2, documents: 200, perDocument: 4, seconds: 4, slack: 1.1, p99Ms: 100, resolution: 1.1, timeoutMs: 120000 }
  },
  quick: {
    cost: { rounds: 1, sizes: [1, 3], idleMs: 1000, low: { count: 50, interval: 20 }, load: { count: 500, batch: 50 }, timeoutMs: 30000 },
    latency: { rounds: 1, count: 100, interval: 10, timeoutMs: 30000 },
    fanout: { rounds: 1, sizes: [32], count: 50, interval: 20, timeoutMs: 60000 },
    failover: { rounds: 1, clients: 9, timeoutMs: 30000 },
    throughput: { repeats: 1, documents: 50, perDocument: 4, seconds: 2, slack: 1.1, p99Ms: 100, resolution: 1.3, timeoutMs: 60000 }
  }
}

/**
 * A fresh redis-server (pinned to the servers' core) and `count` fresh server
 * processes of `system`, sharing it (and, for ours, one SQLite file). `fn` gets
 * the servers, a URL factory per server, an admin Redis client and Redis's pid.
 * `cores` places them otherwise: server i on cores.servers[i], Redis on cores.redis.
 */
async function withCluster (id, count, fn, cores = null) {
  const system = systems[id]
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-scale-out-'))
  const redis = new RedisServer(await freePort(), dir)
  await redis.start()
  execFileSync('taskset', ['-p', '-c', cores?.redis ?? SERVER_CORE, String(redis.child.pid)], { stdio: 'ignore' })
  const admin = createClient({ url: redis.url })
  admin.on('error', () => {})
  await admin.connect()
  const servers = []
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer(system.module, system.options(redis.url, dir), { core: cores?.servers[i] ?? SERVER_CORE }))
    const urlOf = (server) => (doc) => ({ port: server.port, path: `/collab/${encodeURIComponent(doc)}` })
    return await fn(servers, urlOf, admin, system, redis.child.pid)
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
    admin.destroy()
    await redis.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * What Redis did since the last CONFIG RESETSTAT: the commands it executed
 * (INFO stats' total_commands_processed, which also counts the commands a Lua
 * script runs), the PUBLISHes among them, and the bytes in and out. The
 * admin's own INFO and CONFIG RESETSTAT are left out.
 */
async function redisCounters (admin) {
  const stats = await admin.info('stats')
  const commandstats = await admin.info('commandstats')
  const stat = (key) => Number(stats.match(new RegExp(`^${key}:(\\d+)`, 'm'))?.[1] ?? 0)
  const calls = (name) => Number(commandstats.match(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm'))?.[1] ?? 0)
  return {
    commands: stat('total_commands_processed') - calls('info') - calls('config\\|resetstat'),
    publishes: calls('publish'),
    bytes: stat('total_net_input_bytes') + stat('total_net_output_bytes'),
    // Issue 17 §5: what the instances send Redis, apart from what Redis sends them.
    bytesIn: stat('total_net_input_bytes')
  }
}

/**
 * Redis cost per update, `n` instances with an observer each: the first
 * observer makes the first instance the owner; the writer sits on another
 * instance when there is one (its updates cross twice: the worst case).
 * `count` updates go either one per `interval` ms (low rate) or `batch` per
 * event-loop turn (under load). Per update: PUBLISHes and bytes. Beside them,
 * what Redis executes per second while nobody types (heartbeats, leases,
 * liveness checks), measured over `idleMs` before the updates.
 */
async function cost (id, n, { low, load, idleMs, timeoutMs }) {
  return withCluster(id, n, async (servers, urlOf, admin, system) => {
    const observers = servers.map((server, i) => makeClient(urlOf(server), system, 'cost', 100 + i))
    const writer = makeClient(urlOf(servers[Math.min(1, n - 1)]), system, 'cost', 1)
    try {
      await withTimeout(observers[0].connect(), timeoutMs, 'connect')
      await withTimeout(pool([writer, ...observers.slice(1)], 8, (c) => c.connect()), timeoutMs, 'connect')
      await admin.configResetStat()
      await new Promise((resolve) => setTimeout(resolve, idleMs))
      const result = { idleCommandsPerSecond: (await redisCounters(admin)).commands / (idleMs / 1000) }
      let offset = 0
      for (const [phase, { count, interval, batch }] of [['low', low], ['load', load]]) {
        const updates = typingUpdates(1, offset + count).slice(offset)
        offset += count
        const ackTarget = writer.sent + count
        await admin.configResetStat()
        const t0 = performance.now()
        if (interval !== undefined) {
          for (let k = 0; k < count; k++) {
            const wait = t0 + k * interval - performance.now()
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
            writer.sendUpdate(updates[k])
          }
        } else {
          for (let k = 0; k < count; k += batch) {
            writer.sendUpdates(updates.slice(k, k + batch))
            await new Promise((resolve) => setImmediate(resolve))
          }
        }
        await withTimeout(Promise.all([
          ...observers.map((c) => c.until(() => (c.clocks.get(1) ?? 0) >= offset)),
          writer.until(() => writer.acks >= ackTarget)
        ]), timeoutMs, `${phase} delivery`)
        const counters = await redisCounters(admin)
        result[`${phase}Publishes`] = counters.publishes / count
        result[`${phase}Bytes`] = counters.bytes / count
        result[`${phase}BytesIn`] = counters.bytesIn / count
        result[`${phase}Seconds`] = (performance.now() - t0) / 1000
      }
      return result
    } finally {
      writer.close()
      for (const c of observers) c.close()
    }
  })
}

function percentile (values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/**
 * Delivery latency: an observer on each of three instances, the first of them
 * the owner (its observer connects first), and one writer: on the owner
 * (`writerOn` 0: the others get each update in one trip), or on the second
 * instance (`writerOn` 1: its updates go to the owner and from there to the
 * third instance, two trips). Update k is timed from its send to its arrival
 * at each observer: `same` is the observer on the writer's instance, `owner`
 * the owner's (when that is another), `far` the instance neither the writer
 * nor the owner is on (`cross`, as before, both other instances together).
 */
async function latency (id, { count, interval, timeoutMs, writerOn = 0 }) {
  return withCluster(id, 3, async (servers, urlOf, _admin, system) => {
    const updates = typingUpdates(1, count)
    const sentAt = new Array(count)
    const delays = servers.map(() => [])
    const writer = makeClient(urlOf(servers[writerOn]), system, 'latency', 1)
    const observers = servers.map((server, i) => makeClient(urlOf(server), system, 'latency', 100 + i, {
      onReceive: (client, end) => {
        if (client !== 1) return
        const now = performance.now()
        // One update is one clock unit: everything up to `end` has arrived.
        for (let k = delays[i].length; k < end && k < count; k++) delays[i].push(now - sentAt[k])
      }
    }))
    try {
      // The first instance's first client makes it the document's owner.
      await withTimeout((writerOn === 0 ? writer : observers[0]).connect(), timeoutMs, 'connect')
      await withTimeout(pool(writerOn === 0 ? observers : [writer, ...observers.slice(1)], 8, (c) => c.connect()), timeoutMs, 'connect')
      const before = await Promise.all(servers.map((server) => server.usage()))
      const t0 = performance.now()
      for (let k = 0; k < count; k++) {
        const wait = t0 + k * interval - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        sentAt[k] = performance.now()
        writer.sendUpdate(updates[k])
      }
      await withTimeout(Promise.all(observers.map((c) => c.until(() => (c.clocks.get(1) ?? 0) >= count))), timeoutMs, 'delivery')
      const seconds = (performance.now() - t0) / 1000
      const after = await Promise.all(servers.map((server) => server.usage()))
      // The load regime: the busiest instance's share of its core (they share one core).
      const busiest = Math.max(...servers.map((_, i) => (after[i].cpuSeconds - before[i].cpuSeconds) / seconds))
      const others = [0, 1, 2].filter((i) => i !== writerOn)
      const cross = others.flatMap((i) => delays[i])
      const far = delays[2]
      return {
        busiest,
        sameP50: percentile(delays[writerOn], 0.5),
        sameP99: percentile(delays[writerOn], 0.99),
        crossP50: percentile(cross, 0.5),
        crossP99: percentile(cross, 0.99),
        ...(writerOn === 0 ? {} : { ownerP50: percentile(delays[0], 0.5), farP50: percentile(far, 0.5), farP99: percentile(far, 0.99) })
      }
    } finally {
      writer.close()
      for (const c of observers) c.close()
    }
  })
}

/**
 * The two-trip floor: two bare Redis pub/sub hops through three processes (bench/lib/redis-hops.js), Redis
 * and the processes on the servers' core as in `latency`. @returns its p50 and p99, ms
 */
async function hopsFloor ({ count, interval, timeoutMs }) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-hops-'))
  const redis = new RedisServer(await freePort(), dir)
  await redis.start()
  try {
    execFileSync('taskset', ['-p', '-c', SERVER_CORE, String(redis.child.pid)], { stdio: 'ignore' })
    const times = await withTimeout(redisHops(redis.url, { core: SERVER_CORE, count, interval }), timeoutMs, 'the bare Redis hops')
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
  } finally {
    await redis.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The fan-out scenario of bench/collab.js with its clients spread round robin over `instances` instances. */
function fanout (id, instances, options) {
  return withCluster(id, instances, (servers, urlOf, _admin, system) =>
    runFanout(servers, (i) => urlOf(servers[i % servers.length]), system, options))
}

/** FNV-1a of a document name: the instance a load balancer hashing the document sends its clients to. */
function instanceOf (documentName, instances) {
  let hash = 0x811c9dc5
  for (let i = 0; i < documentName.length; i++) hash = Math.imul(hash ^ documentName.charCodeAt(i), 0x01000193) >>> 0
  return hash % instances
}

/** CPU-seconds a process has used (utime + stime of /proc/<pid>/stat, at 100 ticks a second). */
function processCpuSeconds (pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const PLACEMENTS = {
  // One instance alone on core 0; Redis and the load generator on core 1.
  one: { instances: 1, cores: { servers: ['0'], redis: CLIENT_CORE }, generator: CLIENT_CORE, where: 'instance on core 0; Redis and the load generator on core 1' },
  // One instance per core; Redis and the load generator float over both (the machine has no third core).
  two: { instances: 2, cores: { servers: ['0', '1'], redis: '0,1' }, generator: '0,1', where: 'instances on cores 0 and 1; Redis and the load generator on either core (no third core here): they take CPU from the instances' }
}

/**
 * Issue 17 §5, what the scale-out buys: `documents` × `perDocument` clients,
 * each sent to the instance that hashing its document picks, all typing
 * `rate` updates per second together (each client one per interval) for
 * `seconds`; fastify-collab with Redis and the SQLite store. Returns the
 * fan-out's figures (convergence, delivery latency) with the CPU-seconds of
 * the instances, the load generator and Redis.
 */
async function throughput (placement, rate, { documents, perDocument, seconds, timeoutMs, giveUp = 3 }) {
  const { instances, cores, generator } = PLACEMENTS[placement]
  const n = documents * perDocument
  const interval = n * 1000 / rate
  const count = Math.max(5, Math.round(seconds * 1000 / interval))
  return withCluster('ours', instances, async (servers, urlOf, _admin, system, redisPid) => {
    execFileSync('taskset', ['-a', '-p', '-c', generator, String(process.pid)], { stdio: 'ignore' })
    try {
      const redis0 = processCpuSeconds(redisPid)
      const floorSeconds = count * interval / 1000
      const m = await runFanout(servers, (i) => urlOf(servers[instanceOf(documentOf(i, documents), instances)]), system,
        { n, count, interval, timeoutMs, latency: true, giveUpMs: giveUp * floorSeconds * 1000 + 2000, connectInFlight: 64, documents })
      const redisCpuSeconds = processCpuSeconds(redisPid) - redis0
      const wall = Number.isFinite(m.seconds) ? Math.max(m.seconds, Number.isFinite(m.ackSeconds) ? m.ackSeconds : 0) : giveUp * floorSeconds
      const split = Array.from({ length: instances }, (_, k) => Array.from({ length: documents }, (_, d) => documentOf(d, documents)).filter((name) => instanceOf(name, instances) === k).length)
      return { ...m, rate, interval, count, floorSeconds, redisCpuSeconds, redisShare: redisCpuSeconds / wall, generatorShare: m.generatorCpuSeconds / wall, documentsPerInstance: split.join('/') }
    } finally {
      execFileSync('taskset', ['-a', '-p', '-c', CLIENT_CORE, String(process.pid)], { stdio: 'ignore' })
    }
  }, cores)
}

/**
 * Failover: `clients` clients spread over three instances, the first of them
 * the owner. `kill` SIGKILLs it (its death is seen: its connections close);
 * `stop` SIGSTOPs it (nothing is seen until its heartbeat lapses). A client
 * whose socket closes reconnects at once, to the next instance if its own is
 * gone (as a load balancer would send it); the time runs until every client of
 * the other instances (and, for `kill`, of the killed one) has synced again.
 */
async function failover (kind, { clients: total, timeoutMs }) {
  return withCluster('ours', 3, async (servers, urlOf, _admin, system) => {
    const name = 'failover'
    const clients = []
    const connect = async (i, server) => {
      for (;;) {
        const client = makeClient(urlOf(server), system, name, i + 1)
        try {
          await client.connect()
          clients[i] = client
          return client
        } catch {
          client.close()
        }
      }
    }
    const home = (i) => servers[i % 3]
    await connect(0, servers[0])
    await withTimeout(pool(Array.from({ length: total - 1 }, (_, i) => i + 1), 8, (i) => connect(i, home(i))), timeoutMs, 'connect')
    try {
      const counted = clients.map((_, i) => kind === 'kill' || home(i) !== servers[0])
      const t0 = performance.now()
      const resynced = clients.map((client, i) => new Promise((resolve) => {
        if (!counted[i]) return resolve(0)
        client.until(() => false).catch(async () => {
          await connect(i, home(i) === servers[0] ? servers[1] : home(i))
          resolve(performance.now() - t0)
        })
      }))
      process.kill(servers[0].pid, kind === 'kill' ? 'SIGKILL' : 'SIGSTOP')
      const times = await withTimeout(Promise.all(resynced), timeoutMs, 'resync')
      if (kind === 'stop') process.kill(servers[0].pid, 'SIGKILL')
      return { seconds: Math.max(...times) / 1000, clients: counted.filter(Boolean).length }
    } finally {
      for (const client of clients) client?.close()
    }
  })
}

const medianOf = (rounds, key) => median(rounds.map((round) => round[key]))
const share = (value) => `${Math.round(value * 100)} %`
const ms = (value) => value === undefined || Number.isNaN(value) ? '—' : `${value.toFixed(2)} ms`
const num = (value, digits = 2) => value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits)

async function main () {
  pinLoadGenerator()
  const plan = args.quick ? plans.quick : plans.full
  if (args.rounds !== undefined) {
    for (const part of Object.values(plan)) {
      if ('rounds' in part) part.rounds = Number(args.rounds)
      if ('repeats' in part) part.repeats = Number(args.rounds)
    }
  }
  const only = args.only?.split(',') ?? Object.keys(plan)
  const log = (line) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`)
  const results = { date: new Date().toISOString(), node: process.version, quick: args.quick }
  const tables = []

  if (only.includes('cost')) {
    const { rounds, sizes } = plan.cost
    results.cost = {}
    const rows = ['| system | instances | PUBLISH / update, 50 updates/s | bytes / update | into Redis | PUBLISH / update, under load | bytes / update | into Redis | commands / s while idle |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const n of sizes) {
      const measured = await alternate(`cost ${n}`, ['ours', 'hocuspocus'], rounds, (id) => cost(id, n, plan.cost), log)
      results.cost[n] = measured
      for (const id of ['ours', 'hocuspocus']) {
        const r = measured[id].rounds
        rows.push(`| ${systems[id].label} | ${n} | ${num(medianOf(r, 'lowPublishes'))} | ${num(medianOf(r, 'lowBytes'), 0)} | ${num(medianOf(r, 'lowBytesIn'), 0)} | ${num(medianOf(r, 'loadPublishes'))} | ${num(medianOf(r, 'loadBytes'), 0)} | ${num(medianOf(r, 'loadBytesIn'), 0)} | ${num(medianOf(r, 'idleCommandsPerSecond'), 1)} |`)
      }
    }
    const target = (n) => {
      const ours = medianOf(results.cost[n]?.ours?.rounds ?? [], 'loadBytesIn')
      const theirs = medianOf(results.cost[n]?.hocuspocus?.rounds ?? [], 'loadBytesIn')
      return `| bytes into Redis per update under load, ${n} instances ≤ Hocuspocus's (issue 17) | ${num(ours, 1)} against ${num(theirs, 1)} | ${ours <= theirs ? 'met' : '**missed**'} |`
    }
    tables.push('### Redis cost per update\n\n*Bytes* counts both directions (`total_net_input_bytes` + `total_net_output_bytes`); *into Redis* what the instances sent (the first alone). Under load, the writer sends its updates in batches of ' +
      `${plan.cost.load.batch} per event-loop turn.\n\n` + rows.join('\n') +
      '\n\n| target | measured | |\n| --- | ---: | ---: |\n' + sizes.filter((n) => n > 1).map(target).join('\n'))
  }

  if (only.includes('latency')) {
    const measured = await alternate('latency, writer on the owner', ['ours', 'hocuspocus'], plan.latency.rounds, (id) => latency(id, plan.latency), log)
    results.latency = measured
    const rows = ['| system | same instance p50 | p99 | other instances p50 | p99 | p50 difference | busiest instance\'s CPU |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const id of ['ours', 'hocuspocus']) {
      const r = measured[id].rounds
      rows.push(`| ${systems[id].label} | ${ms(medianOf(r, 'sameP50'))} | ${ms(medianOf(r, 'sameP99'))} | ${ms(medianOf(r, 'crossP50'))} | ${ms(medianOf(r, 'crossP99'))} | ${ms(medianOf(r, 'crossP50') - medianOf(r, 'sameP50'))} | ${share(medianOf(r, 'busiest'))} |`)
    }
    tables.push('### Delivery latency, one writer on the owner, an observer on each of three instances\n\n' + rows.join('\n'))
    // Issue 17 §5: the writer on a non-owner; the third instance hears of its updates through the owner (two trips).
    const twoTrips = await alternate('latency, writer on a non-owner', ['ours', 'hocuspocus'], plan.latency.rounds, (id) => latency(id, { ...plan.latency, writerOn: 1 }), log)
    results.latencyNonOwner = twoTrips
    const rows2 = ['| system | writer\'s instance p50 | the owner p50 | third instance p50 | p99 | third − writer\'s, p50 | busiest instance\'s CPU |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const id of ['ours', 'hocuspocus']) {
      const r = twoTrips[id].rounds
      rows2.push(`| ${systems[id].label} | ${ms(medianOf(r, 'sameP50'))} | ${ms(medianOf(r, 'ownerP50'))} | ${ms(medianOf(r, 'farP50'))} | ${ms(medianOf(r, 'farP99'))} | ${ms(medianOf(r, 'farP50') - medianOf(r, 'sameP50'))} | ${share(medianOf(r, 'busiest'))} |`)
    }
    const floors = []
    for (let round = 0; round < plan.latency.rounds; round++) floors.push(await hopsFloor(plan.latency))
    results.latencyFloor = floors
    log(`two bare Redis hops: p50 ${floors.map((floor) => ms(floor.p50)).join(', ')}`)
    const difference = medianOf(twoTrips.ours.rounds, 'farP50') - medianOf(twoTrips.ours.rounds, 'sameP50')
    // The writer's own instance also waits for the owner here; against a same-instance delivery with the
    // writer on the owner (the table above), the two trips show whole.
    const againstOwner = medianOf(twoTrips.ours.rounds, 'farP50') - medianOf(measured.ours.rounds, 'sameP50')
    tables.push('### Delivery latency, the writer on a non-owner (two trips to the third instance)\n\n' +
      'The first instance owns the document (its observer connected first); the writer is on the second. Hocuspocus has no owner: the same layout, for comparison. ' +
      'The writer\'s own instance hears of its updates from the owner too (one round trip), so the target is given against both it and the same-instance p50 of the table above (the writer on the owner).\n\n' +
      rows2.join('\n') + '\n\n' +
      `The floor of two trips on this machine: a message published by one process, relayed by a second and received by a third through one Redis (node-redis, no Yjs, no WebSocket, every process and Redis on the servers' core; \`bench/lib/redis-hops.js\`, ${plan.latency.rounds} round(s) of ${plan.latency.count} messages): ` +
      `**${ms(medianOf(floors, 'p50'))} at the p50**, ${ms(medianOf(floors, 'p99'))} at the p99.\n\n| target | measured | |\n| --- | ---: | ---: |\n` +
      `| two-trip p50 within 1.5 ms of the writer's own instance, same run (issue 17) | ${ms(difference)} | ${difference <= 1.5 ? 'met' : '**missed**'} |\n` +
      `| two-trip p50 within 1.5 ms of same-instance delivery with the writer on the owner (issue 17) | ${ms(againstOwner)} | ${againstOwner <= 1.5 ? 'met' : '**missed**'} |`)
  }

  if (only.includes('fanout')) {
    const { rounds, sizes, count, interval, timeoutMs } = plan.fanout
    results.fanout = {}
    const rows = ['| clients | one instance: converged | server CPU-s | three instances: converged | server CPU-s (sum) | ratio | Hocuspocus + Redis, three: converged | server CPU-s (sum) |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const n of sizes) {
      const options = { n, count, interval, timeoutMs }
      const variants = { single: ['ours-single', 1], spread: ['ours', 3], hocuspocus: ['hocuspocus', 3] }
      const measured = await alternate(`fanout ${n}`, Object.keys(variants), rounds, (variant) => fanout(variants[variant][0], variants[variant][1], options), log)
      results.fanout[n] = measured
      const s = (variant, key) => medianOf(measured[variant].rounds, key)
      rows.push(`| ${n} | ${num(s('single', 'seconds'))} s | ${num(s('single', 'cpuSeconds'))} | ${num(s('spread', 'seconds'))} s | ${num(s('spread', 'cpuSeconds'))} | ${num(s('spread', 'seconds') / s('single', 'seconds'))} × | ${num(s('hocuspocus', 'seconds'))} s | ${num(s('hocuspocus', 'cpuSeconds'))} |`)
    }
    tables.push('### Fan-out on one document spread over three instances\n\n' + rows.join('\n'))
  }

  if (only.includes('failover')) {
    const measured = await alternate('failover', ['kill', 'stop'], plan.failover.rounds, (kind) => failover(kind, plan.failover), log)
    results.failover = measured
    const rows = ['| the owner is | clients timed | every client synced again after (median, range) |', '| --- | ---: | ---: |']
    const label = { kill: 'killed (`kill -9`: its death is seen)', stop: 'paused (`SIGSTOP`: nothing is seen until its heartbeat lapses)' }
    for (const kind of ['kill', 'stop']) {
      const r = measured[kind].rounds
      const seconds = r.map((round) => round.seconds)
      rows.push(`| ${label[kind]} | ${r[0]?.clients ?? '—'} | ${num(median(seconds))} s (${num(Math.min(...seconds))}–${num(Math.max(...seconds))}) |`)
    }
    tables.push('### Failover of the owner (defaults: heartbeat 500 ms, lapse 5000 ms, lease 5000 ms)\n\n' + rows.join('\n'))
  }

  if (only.includes('throughput')) {
    const p = plan.throughput
    const floorOf = (m) => m.floorSeconds
    const measured = await lockstepSearch({
      ids: ['one', 'two'],
      criteria: ['realtime'],
      repeats: p.repeats,
      resolution: p.resolution,
      ladder: [1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000, 48000],
      down: [700, 500, 350, 250],
      step: 250,
      passes: (m) => passes(m, 'interactive', { slack: p.slack, p99Ms: p.p99Ms, floorSeconds: floorOf(m) }),
      measure: (placement, rate) => throughput(placement, rate, p),
      report: (placement, rate, m) => log(`throughput · ${placement} · ${rate} updates/s: ` + (m.error ?? `converged ${num(m.seconds)} s (floor ${num(m.floorSeconds)}), p99 ${num(m.p99Ms, 0)} ms, instances ${num(m.serverShare)} cores, generator ${num(m.generatorShare)}, Redis ${num(m.redisShare)}`))
    })
    results.throughput = measured
    const rows = ['| placement | sustained updates/s | measured at that load: instances\' CPU (cores) | load generator CPU (cores) | Redis CPU (cores) | p99 | documents per instance |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const placement of ['one', 'two']) {
      const { lo, hi } = measured[placement].capacity.realtime
      const at = measured[placement].measurements[lo] ?? []
      rows.push(`| ${PLACEMENTS[placement].where} | ${lo ?? '—'}${hi === null ? '' : ` (${hi} failed)`} | ${num(medianOf(at, 'serverShare'))} | ${num(medianOf(at, 'generatorShare'))} | ${num(medianOf(at, 'redisShare'))} | ${num(medianOf(at, 'p99Ms'), 0)} ms | ${at[0]?.documentsPerInstance ?? '—'} |`)
    }
    const detail = ['| placement | updates/s | converged | floor | p99 | instances (cores) | generator | Redis |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for (const placement of ['one', 'two']) {
      for (const [rate, rounds] of Object.entries(measured[placement].measurements).sort((a, b) => a[0] - b[0])) {
        for (const m of rounds) detail.push(`| ${placement} | ${rate} | ${Number.isFinite(m.seconds) ? num(m.seconds) + ' s' : 'gave up'} | ${num(m.floorSeconds)} s | ${num(m.p99Ms, 0)} ms | ${num(m.serverShare)} | ${num(m.generatorShare)} | ${num(m.redisShare)} |`)
      }
    }
    const ratio = measured.two.capacity.realtime.lo / measured.one.capacity.realtime.lo
    tables.push(`### What the scale-out buys: ${p.documents} documents × ${p.perDocument} clients, one instance against two (issue 17 §5)\n\n` +
      `fastify-collab with Redis and the SQLite store. Each client goes to the instance that hashing its document picks (FNV-1a), as a load balancer would send it, so every document lives on one instance. All clients together type the load in updates/s (each one update per interval, evenly staggered) for ${p.seconds} s; a load is kept *in real time* when every client holds every update (and every SyncStatus) within ${p.slack} × the floor and the p99 delivery is within ${p.p99Ms} ms. Search: 1,000, 1,500, 2,000, 3,000… updates/s, then bisection; each load measured ${p.repeats} time(s). CPU shares are CPU-seconds per wall second (1 = one core).\n\n` +
      rows.join('\n') + `\n\n| target | measured | |\n| --- | ---: | ---: |\n| two instances on a core each sustain ≥ 1.5 × one instance's load (issue 17) | ${num(ratio)} × | ${ratio >= 1.5 ? 'met' : '**missed**'} |\n\n` +
      '<details><summary>Every load measured</summary>\n\n' + detail.join('\n') + '\n\n</details>')
  }

  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'scale-out.json'), JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(`Run of ${results.date.slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}${args.quick ? ', --quick' : ''}.\n\n${tables.join('\n\n')}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
