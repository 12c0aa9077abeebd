// The durable stores' benchmark: `node bench/store.js [--quick] [--only=better-sqlite3,node:sqlite,postgres]`
// prints markdown tables on stdout (progress goes to stderr).
//
// Stores: SQLite on each driver this runtime loads (better-sqlite3; node:sqlite
// on Node 24 and recent 22), and PostgreSQL: the server at DATABASE_URL, or
// else a local one this script starts (test/helpers/postgres.js) and pins to
// core 1 when taskset is there (bench/run.js pins this process to core 0).
//
// - Throughput: the automerge-paper trace (259,778 real keystrokes, CC BY 4.0,
//   josephg/editing-traces) as one Yjs update per keystroke, written durably
//   through the real extension (storageExtension + the store), as the collab
//   core calls it: onChange per update, N updates arriving per event-loop turn
//   without waiting for acknowledgements, all acks awaited. Against it: one
//   transaction per update (append with one entry, back to back), what a store
//   without group commit does.
// - Acknowledgement latency: the trace's first updates offered at a steady
//   5,000 updates/s (10 every 2 ms); the time from onChange to its resolution.
// - Cold load: a new store (connection open, schema checked) loads a document
//   whose log holds 100,000 updates, then the same document compacted into a
//   snapshot.
//
// Each figure is the median of ROUNDS runs, each on a fresh file or schema.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import * as Y from 'yjs'
import { SqliteStorage, storageExtension } from 'fastify-collab/sqlite'
import { PostgresStorage } from 'fastify-collab/postgres'
import { postgresServer as postgresInstalled } from '../test/helpers/needs.js'
import { startPostgres } from '../test/helpers/postgres.js'
import { median, fmt } from './lib/stats.js'
import { loadTrace, traceUpdates } from './lib/trace.js'

const QUICK = process.argv.includes('--quick')
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',')
const ROUNDS = QUICK ? 1 : 3
const TRACE = 'automerge-paper'
// --quick checks that every path works on a slice; the figures need the full run.
const TRACE_SLICE = QUICK ? 20_000 : Infinity
const PER_UPDATE = QUICK ? 2_000 : 20_000
const PER_UPDATE_POSTGRES = 2_000
const COLD_LOG = QUICK ? 20_000 : 100_000
const LATENCY = { perTurn: 10, everyMs: 2, updates: QUICK ? 5_000 : 20_000 }
const PG_CORE = '1'

const progress = (line) => process.stderr.write(`[store] ${line}\n`)

// --- the stores --------------------------------------------------------------

/** A SQLite store on `driver`: each `fresh()` is a new file. */
function sqliteStore (driver) {
  return {
    id: driver,
    fsyncOption: true,
    fresh () {
      const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-bench-store-'))
      const path = join(dir, 'store.db')
      return {
        storage: (options = {}) => new SqliteStorage({ path, driver, ...options }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/** PostgreSQL at `connectionString`: each `fresh()` is a new schema, dropped afterwards. */
function postgresStore (connectionString) {
  let schemas = 0
  return {
    id: 'postgres',
    fsyncOption: false,
    fresh () {
      const schema = `bench_${process.pid}_${++schemas}`
      return {
        storage: () => new PostgresStorage({ connectionString, schema }),
        async cleanup () {
          const client = new pg.Client({ connectionString })
          await client.connect()
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
          await client.end()
        }
      }
    }
  }
}

function driverLoads (driver) {
  const { storage, cleanup } = sqliteStore(driver).fresh()
  try {
    storage().close()
    return true
  } catch (error) {
    progress(`${driver}: not on this runtime (${error.code})`)
    return false
  } finally {
    cleanup()
  }
}

// The server and every process it has forked (and will fork) on the core the load does not use.
function pin (pid) {
  try {
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean)
    for (const id of [pid, ...children]) execFileSync('taskset', ['-a', '-p', '-c', PG_CORE, String(id)], { stdio: 'ignore' })
    return `pinned to core ${PG_CORE}`
  } catch {
    return 'not pinned'
  }
}

async function postgresServer () {
  if (process.env.DATABASE_URL) return { connectionString: process.env.DATABASE_URL, label: 'DATABASE_URL', stop: async () => {} }
  if (postgresInstalled().missing) return null
  const server = await startPostgres()
  const pinned = pin(server.pid)
  return { connectionString: server.connectionString, label: `local PostgreSQL, default settings, ${pinned}`, stop: () => server.destroy() }
}

// --- the measurements ----------------------------------------------------------

/** One append call per update, back to back. Returns updates/s. */
async function perUpdate (store, updates) {
  const { storage: make, cleanup } = store.fresh()
  const storage = make()
  try {
    await storage.load('paper')
    const start = performance.now()
    for (let i = 0; i < updates.length; i++) await storage.append([{ documentName: 'paper', seq: i + 1, update: updates[i] }])
    return updates.length / ((performance.now() - start) / 1000)
  } finally {
    await storage.close()
    await cleanup()
  }
}

/**
 * Through the extension: `perTurn` onChange calls per event-loop turn, the next turn starting without
 * waiting for acks (as a server keeps reading sockets), then every ack awaited. The Y.Doc is updated as
 * the core does, outside the timing, for the size-bound compactions. `maxLogUpdates` Infinity measures
 * the log alone, like the one-transaction-per-update baseline. Returns updates/s: `wall`, from the first
 * onChange to the last ack with the Y.applyUpdate calls included (issue 17 §6: the figure for PostgreSQL,
 * whose work runs in its own server while this process waits), and `net`, without the time spent in
 * Y.applyUpdate (the store's own rate on SQLite, whose writes run on this thread).
 */
async function groupCommit (store, updates, { perTurn, storageOptions, maxLogUpdates = Infinity }) {
  const { storage, cleanup } = store.fresh()
  const extension = storageExtension(storage(storageOptions), { maxLogUpdates })
  try {
    const document = new Y.Doc()
    await extension.onLoadDocument({ documentName: 'paper', document })
    let busy = 0
    const acks = []
    const start = performance.now()
    for (let i = 0; i < updates.length; i += perTurn) {
      const end = Math.min(updates.length, i + perTurn)
      const applyStart = performance.now()
      for (let k = i; k < end; k++) Y.applyUpdate(document, updates[k])
      busy += performance.now() - applyStart
      for (let k = i; k < end; k++) acks.push(extension.onChange({ documentName: 'paper', document, update: updates[k] }))
      await new Promise(setImmediate)
    }
    await Promise.all(acks)
    const elapsed = performance.now() - start
    return { net: updates.length / ((elapsed - busy) / 1000), wall: updates.length / (elapsed / 1000) }
  } finally {
    await extension.onDestroy()
    await cleanup()
  }
}

/** Offers updates at a steady rate and returns the acknowledgement latencies in ms, and the rate reached. */
async function latency (store, updates) {
  const { storage, cleanup } = store.fresh()
  const extension = storageExtension(storage(), { maxLogUpdates: Infinity })
  try {
    const document = new Y.Doc()
    await extension.onLoadDocument({ documentName: 'paper', document })
    const latencies = []
    const acks = []
    const start = performance.now()
    for (let turn = 0, i = 0; i < updates.length; turn++, i += LATENCY.perTurn) {
      for (let k = i; k < Math.min(updates.length, i + LATENCY.perTurn); k++) {
        Y.applyUpdate(document, updates[k])
        const offered = performance.now()
        acks.push(extension.onChange({ documentName: 'paper', document, update: updates[k] }).then(() => latencies.push(performance.now() - offered)))
      }
      // Paced against the clock, not by fixed sleeps, so that timer lateness does not lower the rate offered.
      const wait = start + (turn + 1) * LATENCY.everyMs - performance.now()
      await new Promise((resolve) => wait >= 1 ? setTimeout(resolve, wait) : setImmediate(resolve))
    }
    await Promise.all(acks)
    latencies.sort((a, b) => a - b)
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
    return { p50: at(0.5), p99: at(0.99), rate: updates.length / ((performance.now() - start) / 1000) }
  } finally {
    await extension.onDestroy()
    await cleanup()
  }
}

/** Load time of the same document from a COLD_LOG-update log, then compacted. Returns ms and bytes. */
async function coldLoad (store, updates) {
  const { storage, cleanup } = store.fresh()
  const load = async () => {
    const extension = storageExtension(storage(), { maxLogUpdates: Infinity })
    // Opening the connection (and PostgreSQL's first-use schema check) is not the document's load.
    await extension.onLoadDocument({ documentName: 'warm-up', document: new Y.Doc() })
    const document = new Y.Doc()
    const start = performance.now()
    await extension.onLoadDocument({ documentName: 'paper', document })
    return { ms: performance.now() - start, document, extension }
  }
  try {
    const writer = storage()
    const log = updates.slice(0, COLD_LOG)
    for (let i = 0; i < log.length; i += 1000) {
      await writer.append(log.slice(i, i + 1000).map((update, k) => ({ documentName: 'paper', seq: i + k + 1, update })))
    }
    await writer.close()
    const logBytes = log.reduce((sum, update) => sum + update.byteLength, 0)
    const fromLog = await load()
    const text = fromLog.document.getText('text').toString()
    const snapshotBytes = Y.encodeStateAsUpdate(fromLog.document).byteLength
    await fromLog.extension.onStoreDocument({ documentName: 'paper', document: fromLog.document })
    await fromLog.extension.onDestroy()
    const fromSnapshot = await load()
    if (fromSnapshot.document.getText('text').toString() !== text) throw new Error('the compacted document differs')
    await fromSnapshot.extension.onDestroy()
    return { logMs: fromLog.ms, snapshotMs: fromSnapshot.ms, logBytes, snapshotBytes }
  } finally {
    await cleanup()
  }
}

async function medianOf (label, run) {
  const results = []
  for (let round = 0; round < ROUNDS; round++) results.push(await run())
  const value = typeof results[0] === 'number' ? median(results) : results.sort((a, b) => (a.p50 ?? a.logMs ?? a.wall) - (b.p50 ?? b.logMs ?? b.wall))[Math.floor(results.length / 2)]
  progress(`${label}: ${typeof value === 'number' ? fmt.int(value) + ' updates/s' : JSON.stringify(value)}`)
  return value
}

// --- the run -------------------------------------------------------------------

const loadBefore = loadavg()[0]
progress(`replaying ${TRACE}`)
const updates = traceUpdates(loadTrace(TRACE)).updates.slice(0, TRACE_SLICE)
progress(`${updates.length} updates`)

const stores = ['better-sqlite3', 'node:sqlite'].filter((driver) => !only || only.includes(driver)).filter(driverLoads).map(sqliteStore)
const server = !only || only.includes('postgres') ? await postgresServer() : null
if (server !== null) stores.push(postgresStore(server.connectionString))
else if (!only || only.includes('postgres')) progress('postgres: no DATABASE_URL and no local PostgreSQL, left out')

const writePaths = [
  { label: `one transaction per update (first ${fmt.int(PER_UPDATE)} updates; PostgreSQL: first ${fmt.int(PER_UPDATE_POSTGRES)})`, run: (store) => perUpdate(store, updates.slice(0, store.id === 'postgres' ? PER_UPDATE_POSTGRES : PER_UPDATE)) },
  ...[1, 16, 256].map((perTurn) => ({ label: `group commit, ${perTurn} update${perTurn > 1 ? 's' : ''} per turn`, run: (store) => groupCommit(store, updates, { perTurn }) })),
  { label: 'group commit, 16 updates per turn, SQLite `synchronous=FULL`', run: (store) => store.fsyncOption ? groupCommit(store, updates, { perTurn: 16, storageOptions: { synchronous: 'FULL' } }) : { net: NaN, wall: NaN } },
  { label: 'group commit, 16 updates per turn, compacting every 10,000 updates (the default)', run: (store) => groupCommit(store, updates, { perTurn: 16, maxLogUpdates: 10_000 }) }
]

const throughput = writePaths.map(() => ({}))
const latencies = {}
const loads = {}
try {
  for (const store of stores) {
    for (const [i, path] of writePaths.entries()) throughput[i][store.id] = await medianOf(`${store.id}, ${path.label}`, () => path.run(store))
    latencies[store.id] = await medianOf(`${store.id}, latency`, () => latency(store, updates.slice(0, LATENCY.updates)))
    loads[store.id] = await medianOf(`${store.id}, cold load`, () => coldLoad(store, updates))
  }
} finally {
  await server?.stop()
}

const ids = stores.map((store) => store.id)
const rate = (value) => typeof value === 'number' ? fmt.int(value) : Number.isNaN(value.wall) ? '—' : `${fmt.int(value.wall)} <sub>net ${fmt.int(value.net)}</sub>`
const lines = [
  `Durable stores, \`${TRACE}\` trace (${fmt.int(updates.length)} Yjs updates${QUICK ? ', --quick slice' : ''}), ` +
    `Node ${process.versions.node}, ${cpus().length} cores (${cpus()[0].model.trim()}); median of ${ROUNDS} run(s); ` +
    `load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.` +
    (server === null ? '' : ` PostgreSQL: ${server.label}.`) + ' Target: >= 20,000 updates/s.',
  '',
  'Group commit: updates/s in wall time, from the first onChange to the last acknowledgement with the `Y.applyUpdate` calls included; ' +
    'in small print *net*, without the time those took (the store\'s own rate: on SQLite, whose writes run on the same thread, the fairer figure). ' +
    'PostgreSQL works in its own server while this process waits: its figure is the wall time.',
  '',
  `| write path, updates/s | ${ids.join(' | ')} |`,
  `| --- |${ids.map(() => ' ---: |').join('')}`,
  ...writePaths.map((path, i) => `| ${path.label} | ${ids.map((id) => rate(throughput[i][id])).join(' | ')} |`),
  '',
  `| acknowledgement latency, ${fmt.int(LATENCY.perTurn * 1000 / LATENCY.everyMs)} updates/s offered (${LATENCY.perTurn} every ${LATENCY.everyMs} ms) | p50 | p99 | rate reached |`,
  '| --- | ---: | ---: | ---: |',
  ...ids.map((id) => `| ${id} | ${fmt.n2(latencies[id].p50)} ms | ${fmt.n2(latencies[id].p99)} ms | ${fmt.int(latencies[id].rate)}/s |`),
  '',
  `| cold load of one document | ${fmt.int(COLD_LOG)} updates in the log | compacted into a snapshot |`,
  '| --- | ---: | ---: |',
  ...ids.map((id) => `| ${id} | ${fmt.int(loads[id].logMs)} ms (${fmt.int(loads[id].logBytes / 1024)} KiB) | ${fmt.n1(loads[id].snapshotMs)} ms (${fmt.int(loads[id].snapshotBytes / 1024)} KiB) |`)
]
process.stdout.write(lines.join('\n') + '\n')
