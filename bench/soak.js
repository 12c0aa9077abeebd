// Soak (issue 7): connect, edit, disconnect churn over 200 documents with the
// SQLite store, against fastify-collab in its own process (core 0).
//
//   node bench/soak.js                 10 minutes (the issue's run)
//   node bench/soak.js --minutes 30    issue 17 §3: does the RSS level off? (slopes per 10-minute window)
//   node bench/soak.js --minutes 30 --malloc-arena-max 2   the same with glibc's malloc held to 2 arenas
//   node bench/soak.js --minutes 0.5   a short check that it works
//
// Every sample interval it reads the server's RSS and heap after a full GC;
// at the end it prints the slope of both over the last half of the run
// (target < 1 MiB/min), then waits for the documents to be stored and unloaded
// and reports the documents and timers left (target 0 and 0; the timer count
// is taken against a baseline with the same sockets' heartbeat running).
//
// Where the RSS goes (issue 17 §3): every sample also splits it, from
// process.memoryUsage() and /proc/<pid>/status, into the V8 heap (heapTotal:
// what V8 holds, used or not), external memory V8 knows of (ArrayBuffers,
// Buffers), file-backed pages (RssFile + RssShmem: code, mapped libraries) and
// the rest of the anonymous memory, *native*: what malloc holds for SQLite's
// page cache, libuv, zlib, ws, and the arenas' free but unreturned pages. The
// slopes of each are printed per window (`--windows`, 10 minutes by default),
// so that a component that keeps growing stands out from one that levels off.
// The samples go to bench/results/soak-<time>.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServer, pinLoadGenerator } from './lib/server-process.js'
import { CollabClient } from './lib/collab-client.js'
import { typingUpdates } from './lib/updates.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    documents: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '40' },
    // The length of the windows whose slopes are printed, in minutes.
    window: { type: 'string', default: '10' },
    // glibc malloc's arena count for the server (MALLOC_ARENA_MAX): fewer arenas, less memory held unreturned.
    'malloc-arena-max': { type: 'string' }
  }
})
const minutes = Number(args.minutes)
const documents = Number(args.documents)
const sampleMs = minutes >= 5 ? 10_000 : 2_000
const mib = (bytes) => bytes / 1048576

pinLoadGenerator()
const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-soak-'))
const env = args['malloc-arena-max'] === undefined ? {} : { MALLOC_ARENA_MAX: args['malloc-arena-max'] }
const server = await startServer('collab-ours', { sqlite: dir }, { env })

/** The server's RSS split (MiB): V8 heap, external, file-backed, and the rest (native). */
function split (memory) {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8')
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  const anon = kib('RssAnon')
  return {
    heapTotal: mib(memory.heapTotal),
    external: mib(memory.external),
    arrayBuffers: mib(memory.arrayBuffers),
    file: mib(kib('RssFile') + kib('RssShmem')),
    native: mib(anon - memory.heapTotal - memory.external)
  }
}
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

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
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
    const parts = split(memory)
    samples.push({ at, rss: mib(memory.rss), heap: mib(memory.heapUsed), ...parts })
    console.log(`${at.toFixed(2)} min: ${cycles} cycles, rss ${mib(memory.rss).toFixed(1)} MiB, heap ${mib(memory.heapUsed).toFixed(1)} MiB` +
      ` (V8 heap ${parts.heapTotal.toFixed(1)}, external ${parts.external.toFixed(1)}, file ${parts.file.toFixed(1)}, native ${parts.native.toFixed(1)})`)
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
  // The slope of each component per window: what grows, and whether it levels off.
  const windowMinutes = Number(args.window)
  const components = ['rss', 'heap', 'heapTotal', 'external', 'file', 'native']
  result.windows = []
  for (let from = 0; from < minutes; from += windowMinutes) {
    const points = samples.filter((s) => s.at >= from && s.at < from + windowMinutes)
    if (points.length < 3) continue
    result.windows.push({
      minutes: `${from}–${Math.min(minutes, from + windowMinutes)}`,
      ...Object.fromEntries(components.map((c) => [c, Number(slope(points.map((s) => [s.at, s[c]])).toFixed(2))])),
      rssMedian: Number(median(points.map((s) => s.rss)).toFixed(1))
    })
  }
  result.mallocArenaMax = args['malloc-arena-max'] ?? 'default'
  console.log(JSON.stringify(result, null, 1))
  console.log('slopes in MiB/min per window (rss = V8 heapTotal + external + file + native):')
  for (const w of result.windows) console.log(`  ${w.minutes} min: ${components.map((c) => `${c} ${w[c]}`).join(', ')}; median RSS ${w.rssMedian} MiB`)
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(`${resultsDir}soak-${new Date().toISOString().slice(0, 16).replace(/:/g, '')}.json`, JSON.stringify({ result, samples }, null, 1) + '\n')
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
