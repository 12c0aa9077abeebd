// Soak (issue 7): connect, edit, disconnect churn over 200 documents with the
// SQLite store, against fastify-collab in its own process (core 0).
//
//   node bench/soak.js                 10 minutes (the run)
//   node bench/soak.js --minutes 0.5   a short check that it works
//
// Every sample interval it reads the server's RSS and heap after a full GC;
// at the end it prints the slope of both over the last half of the run
// (target < 1 MiB/min), then waits for the documents to be stored and unloaded
// and reports the documents and timers left (target 0 and 0; the timer count
// is taken against a baseline with the same sockets' heartbeat running).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServer, pinLoadGenerator } from './lib/server-process.js'
import { CollabClient } from './lib/collab-client.js'
import { typingUpdates } from './lib/updates.js'

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, documents: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '40' } } })
const minutes = Number(args.minutes)
const documents = Number(args.documents)
const sampleMs = minutes >= 5 ? 10_000 : 2_000
const mib = (bytes) => bytes / 1048576

pinLoadGenerator()
const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-soak-'))
const server = await startServer('collab-ours', { sqlite: dir })
let clientID = 1
let cycles = 0
let failures = 0

/** One client's life: connect to a random document, type five characters, wait until they are acknowledged (or echoed), leave. */
async function cycle () {
  const protocol = clientID % 2 === 0 ? 'hocuspocus' : 'y-websocket'
  const id = clientID++
  const documentName = `soak-${Math.floor(Math.random() * documents)}`
  const client = new CollabClient({ port: server.port, path: `/collab/${documentName}` }, { protocol, documentName, clientID: id, trackSelf: true, awareness: { user: { name: `soak ${id}` } } })
  try {
    await client.connect()
    const acks = client.acks
    client.sendUpdates(typingUpdates(id, 5))
    await client.until(() => protocol === 'hocuspocus' ? client.acks >= acks + 5 : client.clocks.get(id) >= 5)
    cycles++
  } catch {
    failures++
  } finally {
    client.close()
  }
}

async function worker (until) {
  while (performance.now() < until) await cycle()
}

function slope (points) {
  // Least squares, MiB per minute.
  const n = points.length
  const mx = points.reduce((s, p) => s + p[0], 0) / n
  const my = points.reduce((s, p) => s + p[1], 0) / n
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0)
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

try {
  // The baseline: one socket came and went, so the heartbeat runs, and nothing is loaded.
  await cycle()
  await waitUntilIdle(30_000)
  const baseline = await server.stats()
  const t0 = performance.now()
  const until = t0 + minutes * 60_000
  const samples = []
  const sampler = setInterval(async () => {
    const { memory } = await server.usage({ gc: true })
    const at = (performance.now() - t0) / 60_000
    samples.push({ at, rss: mib(memory.rss), heap: mib(memory.heapUsed) })
    console.log(`${at.toFixed(2)} min: ${cycles} cycles, rss ${mib(memory.rss).toFixed(1)} MiB, heap ${mib(memory.heapUsed).toFixed(1)} MiB`)
  }, sampleMs)
  await Promise.all(Array.from({ length: Number(args.concurrency) }, () => worker(until)))
  clearInterval(sampler)
  const idleAfter = await waitUntilIdle(60_000)
  const stats = await server.stats()
  const late = samples.filter((s) => s.at >= minutes / 2)
  const result = {
    minutes,
    cycles,
    failures,
    rssSlopeMiBPerMin: slope(late.map((s) => [s.at, s.rss])),
    heapSlopeMiBPerMin: slope(late.map((s) => [s.at, s.heap])),
    documentsLeft: stats.documents,
    connectionsLeft: stats.connections,
    timersLeft: stats.timers - baseline.timers,
    secondsUntilIdle: idleAfter
  }
  console.log(JSON.stringify(result, null, 1))
  const ok = result.rssSlopeMiBPerMin < 1 && result.heapSlopeMiBPerMin < 1 && result.documentsLeft === 0 && result.timersLeft <= 0 && failures === 0
  console.log(ok ? 'soak: targets met' : 'soak: a target was MISSED')
  if (minutes >= 5) process.exitCode = ok ? 0 : 1
} finally {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}

/** Resolves with the seconds it took until no document is loaded (the last disconnect stores, then unloads); rejects after `ms`. */
async function waitUntilIdle (ms) {
  const start = performance.now()
  while ((await server.stats()).documents > 0) {
    if (performance.now() - start > ms) throw new Error(`documents still loaded after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return (performance.now() - start) / 1000
}
