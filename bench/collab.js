// Issue 3 (and the durability overhead of issue 4): the collaboration
// benchmarks. Every measurement runs in a fresh server process on core 0; the
// lightweight clients of lib/collab-client.js run here, on core 1.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from './lib/server-process.js'
import { CollabClient } from './lib/collab-client.js'
import { Offender } from './lib/offender.js'
import { perConnection } from './lib/memory.js'
import { typingUpdates, oneUpdate, cachedTraceUpdates } from './lib/updates.js'
import { pool, withTimeout } from './lib/stats.js'
import { readCores, busySince } from './lib/cores.js'
import { DeliveryTimer } from './lib/latency.js'

export const systems = {
  'ours-hp': { module: 'collab-ours', protocol: 'hocuspocus', label: 'fastify-collab, Hocuspocus clients' },
  'ours-yws': { module: 'collab-ours', protocol: 'y-websocket', label: 'fastify-collab, y-websocket clients' },
  'ours-sqlite': { module: 'collab-ours', protocol: 'hocuspocus', sqlite: true, label: 'fastify-collab + SQLite store, Hocuspocus clients' },
  'ours-metrics': { module: 'collab-ours', protocol: 'hocuspocus', metrics: true, label: 'fastify-collab + metrics scraped every second, Hocuspocus clients' },
  hocuspocus4: { module: 'collab-hocuspocus4', protocol: 'hocuspocus', label: '@hocuspocus/server 4.7.0' },
  hocuspocus3: { module: 'collab-hocuspocus3', protocol: 'hocuspocus', label: '@hocuspocus/server 3.4.4' },
  'y-websocket-server': { module: 'collab-y-websocket-server', protocol: 'y-websocket', label: '@y/websocket-server 0.1.1' }
}

/**
 * Starts `system` in a fresh process (with a fresh SQLite dir if it needs one) and runs `fn(server, url(doc))`.
 * `how` goes to startServer (`flags`).
 */
async function withServer (id, fn, how = {}) {
  const system = systems[id]
  const dir = system.sqlite ? mkdtempSync(join(tmpdir(), 'fastify-collab-bench-')) : null
  const server = await startServer(system.module, { ...(dir === null ? {} : { sqlite: dir }), ...(system.metrics ? { metrics: true } : {}) }, how)
  const url = (doc) => ({ port: server.port, path: `/collab/${encodeURIComponent(doc)}` })
  try {
    return await fn(server, url, system)
  } finally {
    await server.stop()
    if (dir !== null) rmSync(dir, { recursive: true, force: true })
  }
}

export function makeClient (url, system, documentName, clientID, extra = {}) {
  return new CollabClient(url(documentName), {
    protocol: system.protocol,
    documentName,
    clientID,
    awareness: { user: { name: `user ${clientID}`, color: '#30bced' } },
    ...extra
  })
}

/**
 * Sends update k of client i at t0 + k·interval + i·interval/n: every client
 * types one update per `interval`, the clients evenly staggered. Resolves with
 * the largest lateness (ms) of any send, to show when this process fell behind.
 * `onSent(i, k)`, when given, is called right after each send.
 */
function typeOnSchedule (clients, updates, interval, t0, onSent = null) {
  const n = clients.length
  const total = n * updates[0].length
  let next = 0
  let maxLate = 0
  return new Promise((resolve) => {
    function run () {
      const now = performance.now()
      while (next < total) {
        const k = Math.floor(next / n)
        const i = next % n
        const due = t0 + k * interval + i * interval / n
        if (due > now) return setTimeout(run, due - now)
        maxLate = Math.max(maxLate, now - due)
        clients[i].sendUpdate(updates[i][k])
        onSent?.(i, k)
        next++
      }
      resolve(maxLate)
    }
    run()
  })
}

/**
 * Fan-out: `n` clients on one document, each sending `count` one-character
 * updates, one per `interval` ms. Measures the time from the first send until
 * every client has every other client's updates (and, for Hocuspocus clients,
 * a SyncStatus for each of its own), and the server's CPU-seconds over it.
 */
export function fanout (id, options) {
  return withServer(id, (server, url, system) => runFanout([server], () => url, system, options))
}

// fastify-collab's default maxAwarenessStates.
const AWARENESS_CAP = 512

/**
 * The fan-out of {@link fanout} on clients spread over `servers`: client i
 * connects to `urlFor(i)`. The server CPU-seconds are summed over them.
 *
 * With `latency`, every delivery of every update is timed from its send to
 * its arrival (bench/lib/latency.js): p50, p99 and max in ms. With `giveUpMs`,
 * a convergence that takes longer is not an error but a result with
 * `seconds: Infinity` (the capacity search only needs to know it failed).
 */
export async function runFanout (servers, urlFor, system, { n, count = 100, interval = 20, timeoutMs, latency = false, giveUpMs = null, connectInFlight = 32, documents = 1 }) {
  const updates = Array.from({ length: n }, (_, i) => typingUpdates(i + 1, count))
  const timer = latency ? new DeliveryTimer(n, count) : null
  const extra = timer === null ? {} : { onReceive: timer.onReceive }
  // With several documents, client i is on document i % documents (urlFor(i) must send it there):
  // every client's ID is its own, so the timer tells them apart across documents.
  const clients = Array.from({ length: n }, (_, i) => makeClient(urlFor(i), system, documentOf(i, documents), i + 1, extra))
  const usage = async () => (await Promise.all(servers.map((server) => server.usage()))).reduce((sum, { cpuSeconds }) => sum + cpuSeconds, 0)
  try {
    await withTimeout(pool(clients, connectInFlight, (c) => c.connect()), timeoutMs, 'connect')
    const peers = (i) => Math.floor((n - 1 - (i % documents)) / documents) + 1 // clients on i's document
    // Everyone's awareness state has arrived everywhere: the clients have settled. fastify-collab keeps at
    // most maxAwarenessStates (512) states per document and leaves later ones out, so past 512 clients the
    // wait is for 512.
    await withTimeout(Promise.all(clients.map((c, i) => c.until(() => c.awarenessSeen.size >= Math.min(peers(i), AWARENESS_CAP)))), timeoutMs, 'awareness')
    const expectedOf = (i) => (peers(i) - 1) * count
    const hocuspocus = system.protocol === 'hocuspocus'
    const ackTargets = clients.map((c) => c.sent + count)
    await Promise.all(servers.map((server) => server.profile('start', `fanout-${n}`)))
    const before = await usage()
    const cpu0 = process.cpuUsage()
    const cores0 = readCores()
    const t0 = performance.now()
    const late = typeOnSchedule(clients, updates, interval, t0, timer === null ? null : (i, k) => timer.sent(i, k))
    const converged = clients.map((c, i) => c.until(() => c.received >= expectedOf(i)).then(() => performance.now() - t0))
    const acked = clients.map((c, i) => hocuspocus ? c.until(() => c.acks >= ackTargets[i]).then(() => performance.now() - t0) : 0)
    let done
    try {
      done = await withTimeout(Promise.all([Promise.all(converged), Promise.all(acked), late]), giveUpMs ?? timeoutMs, 'convergence')
    } catch (error) {
      const behind = clients.filter((c, i) => c.received < expectedOf(i)).length
      if (giveUpMs === null || !/^timeout/.test(error.message)) throw new Error(`${error.message}; ${behind} of ${n} clients still behind`)
      const cores = busySince(cores0)
      const generator = process.cpuUsage(cpu0)
      const wall = (performance.now() - t0) / 1000
      const cpuSeconds = await usage().then((after) => after - before, () => NaN)
      return {
        gaveUp: 1,
        seconds: Infinity,
        ackSeconds: Infinity,
        behind,
        cpuSeconds,
        serverShare: cpuSeconds / wall,
        generatorCpuSeconds: (generator.user + generator.system) / 1e6,
        serverCoreBusy: cores[0],
        generatorCoreBusy: cores[1],
        ...(timer === null ? {} : { p50Ms: Infinity, p99Ms: Infinity, maxMs: Infinity })
      }
    }
    const cores = busySince(cores0)
    const after = await usage()
    const generator = process.cpuUsage(cpu0)
    await Promise.all(servers.map((server) => server.profile('stop', `fanout-${n}`)))
    const [convergedAt, ackedAt, maxLate] = done
    const wall = Math.max(...convergedAt, ...(hocuspocus ? ackedAt : [])) / 1000
    return {
      seconds: Math.max(...convergedAt) / 1000,
      ackSeconds: hocuspocus ? Math.max(...ackedAt) / 1000 : NaN,
      cpuSeconds: after - before,
      // The servers' CPU-seconds per wall second (summed: 1 = one core busy throughout).
      serverShare: (after - before) / wall,
      generatorCpuSeconds: (generator.user + generator.system) / 1e6,
      maxLateMs: maxLate,
      serverCoreBusy: cores[0],
      generatorCoreBusy: cores[1],
      gaps: clients.reduce((sum, c) => sum + c.gaps, 0),
      ...(timer === null
        ? {}
        : { p50Ms: timer.histogram.quantile(0.5), p99Ms: timer.histogram.quantile(0.99), maxMs: timer.histogram.max, deliveries: timer.histogram.count })
    }
  } finally {
    for (const c of clients) c.close()
  }
}

/** The document of client i when `documents` share the clients: 'fanout' alone, else 'fanout-<i % documents>'. */
export function documentOf (i, documents) {
  return documents === 1 ? 'fanout' : `fanout-${i % documents}`
}

/**
 * `docs` documents × 2 clients: from the first connect until both clients of
 * every document have synced and hold each other's initial content. The
 * clients connect with at most 64 handshakes in flight.
 */
export function manyDocuments (id, { docs, timeoutMs }) {
  return withServer(id, async (server, url, system) => {
    const content = 'hello from a client '
    const clients = []
    for (let d = 0; d < docs; d++) {
      for (const clientID of [1, 2]) clients.push(makeClient(url, system, `doc-${d}`, clientID))
    }
    const initial = [null, oneUpdate(1, content), oneUpdate(2, content)]
    try {
      await server.profile('start', `many-${docs}`)
      const before = await server.usage()
      const t0 = performance.now()
      const synced = withTimeout(pool(clients, 64, async (c) => {
        await c.connect()
        c.sendUpdate(initial[c.clientID])
        await c.until(() => c.received >= content.length)
      }), timeoutMs, 'sync')
      await synced
      const seconds = (performance.now() - t0) / 1000
      const after = await server.usage()
      await server.profile('stop', `many-${docs}`)
      return { seconds, cpuSeconds: after.cpuSeconds - before.cpuSeconds }
    } finally {
      for (const c of clients) c.close()
    }
  })
}

/**
 * Idle memory: `connections` synced clients, each with an awareness state, on
 * `connections / perDocument` documents, between two full-GC snapshots.
 *
 * With `warmup`, that many clients (on documents of their own, as many per
 * document) connect first, before the first snapshot, in a server whose young
 * generation is fixed at its largest size (16 MiB semi-spaces): the growth is
 * then the marginal cost of a connection. Without both, a one-off step of the
 * process lands in the growth: V8 doubles its young generation while the
 * first connections come in (fastify-collab from 16 to 32 MiB, which starts
 * larger because loading Fastify allocates more; @y/websocket-server from 8 to
 * 16 MiB), and the RSS counts the new pages once they are written.
 *
 * Besides the growth per connection: the process's whole RSS after, per
 * connection and per document (issue 17's 10,000 connections on 1,000
 * documents), the RSS before the first connection, and the young generation's
 * size at the three snapshots.
 */
export function idleMemory (id, { connections, perDocument, warmup = 0, timeoutMs, connectInFlight = 32 }) {
  return withServer(id, async (server, url, system) => {
    const batch = (count, prefix) => Array.from({ length: count }, (_, i) =>
      makeClient(url, system, `${prefix}-${Math.floor(i / perDocument)}`, (i % perDocument) + 1))
    const connect = async (batch) => {
      await withTimeout(pool(batch, connectInFlight, (c) => c.connect()), timeoutMs, 'connect')
      await withTimeout(Promise.all(batch.map((c) => c.until(() => c.awarenessSeen.size >= Math.min(perDocument, batch.length)))), timeoutMs, 'awareness')
    }
    const early = batch(warmup, 'warmup')
    const clients = batch(connections, 'idle')
    const documents = Math.ceil(connections / perDocument)
    const youngGenerationMiB = (usage) => usage.spaces.find((space) => space.name === 'new_space').size / 1048576
    try {
      const start = await server.usage({ gc: true })
      await connect(early)
      const before = await server.usage({ gc: true })
      await connect(clients)
      const after = await server.usage({ gc: true })
      return {
        ...perConnection(before, after, connections),
        rssBeforeMiB: start.memory.rss / 1048576,
        rssTotalMiB: after.memory.rss / 1048576,
        rssTotalPerConnection: after.memory.rss / (warmup + connections),
        rssTotalPerDocument: after.memory.rss / (Math.ceil(warmup / perDocument) + documents),
        youngGenerationMiB: [start, before, after].map(youngGenerationMiB)
      }
    } finally {
      for (const c of [...early, ...clients]) c.close()
    }
  }, warmup > 0 ? { flags: ['--min-semi-space-size=16', '--max-semi-space-size=16'] } : {})
}

/**
 * Trace replay: one client sends every update of a trace as fast as the socket
 * takes them, and waits until they all come back from the server (every
 * system here echoes updates to their sender) and, for Hocuspocus clients,
 * until each has its SyncStatus.
 */
const BATCH = 1000

export function traceReplay (id, { trace, timeoutMs }) {
  const { updates, clock } = cachedTraceUpdates(trace)
  return withServer(id, async (server, url, system) => {
    const client = makeClient(url, system, 'trace', 1, { trackSelf: true, awareness: null })
    try {
      await withTimeout(client.connect(), timeoutMs, 'connect')
      const ackTarget = client.sent + updates.length
      const before = await server.usage()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const echoed = client.until(() => client.received >= clock)
      const acked = system.protocol === 'hocuspocus' ? client.until(() => client.acks >= ackTarget) : null
      for (let i = 0; i < updates.length; i += BATCH) {
        client.sendUpdates(updates.slice(i, i + BATCH))
        // Yield between batches so that the echoes are read while sending.
        await new Promise((resolve) => setImmediate(resolve))
      }
      await withTimeout(Promise.all([echoed, acked]), timeoutMs, 'replay')
      const seconds = (performance.now() - t0) / 1000
      const after = await server.usage()
      const generator = process.cpuUsage(cpu0)
      return {
        updates: updates.length,
        seconds,
        perSecond: updates.length / seconds,
        cpuSeconds: after.cpuSeconds - before.cpuSeconds,
        generatorCpuSeconds: (generator.user + generator.system) / 1e6
      }
    } finally {
      client.close()
    }
  })
}

/**
 * Issue 7: one document, `n` clients. A seed client first writes `seedBytes`
 * of text, so that a SyncStep1 asks for a large answer; then `n - 1` good
 * clients type `count` updates each, one per `interval` ms, while (unless
 * `offender` is null) the last client misbehaves: 'slow' stops reading (a
 * ping a second keeps it alive), 'abuse' also sends `abuseFrames` SyncStep1
 * and as many QueryAwareness, 40 every 10 ms. Reports the good clients' convergence time, the server's
 * peak RSS growth over the run (sampled every 250 ms), and whether and when
 * the server closed the offender.
 */
export function misbehaving (id, { n, count = 100, interval = 20, seedBytes, offender, abuseFrames, timeoutMs }) {
  return withServer(id, async (server, url, system) => {
    const good = Array.from({ length: n - 1 }, (_, i) => makeClient(url, system, 'misbehaving', i + 1))
    const bad = offender === null ? null : new Offender(offender, abuseFrames, url('misbehaving'), { protocol: system.protocol, documentName: 'misbehaving', clientID: n, awareness: { user: { name: 'offender' } } })
    const updates = good.map((_, i) => typingUpdates(i + 1, count))
    const clients = bad === null ? good : [...good, bad]
    try {
      const before = await server.usage()
      await withTimeout(good[0].connect(), timeoutMs, 'seed connect')
      good[0].sendUpdate(oneUpdate(10_000, 'x'.repeat(seedBytes)))
      await withTimeout(pool(clients.slice(1), 16, (c) => c.connect()), timeoutMs, 'connect')
      // Everyone holds the seed (the seeder too: every system echoes an update to its sender).
      await withTimeout(Promise.all(clients.map((c) => c.until(() => c.clocks.get(10_000) === seedBytes))), timeoutMs, 'seed')
      const expected = (n - 2) * count + seedBytes
      const t0 = performance.now()
      bad?.start(t0)
      let peak = 0
      const sampler = setInterval(() => {
        server.usage().then(({ memory }) => { peak = Math.max(peak, memory.rss - before.memory.rss) }, () => {})
      }, 250)
      try {
        const late = typeOnSchedule(good, updates, interval, t0)
        const converged = good.map((c) => c.until(() => c.received >= expected).then(() => performance.now() - t0))
        const done = await withTimeout(Promise.all([Promise.all(converged), late]), timeoutMs, 'convergence')
        const after = await server.usage()
        peak = Math.max(peak, after.memory.rss - before.memory.rss)
        return {
          seconds: Math.max(...done[0]) / 1000,
          rssGrowthMiB: peak / 1048576,
          offenderClosedSeconds: bad?.closedAt === null || bad === null ? NaN : bad.closedAt / 1000,
          offenderClosed: bad === null ? NaN : bad.closedAt === null ? 0 : 1
        }
      } finally {
        clearInterval(sampler)
      }
    } finally {
      for (const c of clients) c.close()
    }
  })
}
