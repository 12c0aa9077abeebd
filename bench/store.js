// The durable store's benchmark: `node bench/store.js` prints a markdown table
// on stdout (progress goes to stderr).
//
// - Throughput: the automerge-paper trace (259,778 real keystrokes, CC BY 4.0,
//   josephg/editing-traces) replayed into a Y.Text gives one Yjs update per
//   keystroke. They are written durably through the real extension
//   (storageExtension + SqliteStorage, WAL), as the collab core calls it:
//   onChange per update, N updates arriving per event-loop turn, all acks
//   awaited. Against it: one transaction per update (SqliteStorage.append with
//   one entry, back to back), what a store without group commit does.
// - Cold load: a new storage on the file loads a document whose log holds
//   100,000 updates, then the same document compacted into a snapshot.
//
// Each figure is the median of ROUNDS runs, each on a fresh file.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { SqliteStorage, storageExtension } from 'fastify-collab/sqlite'

const ROUNDS = 3
const COLD_LOG = 100_000
const TRACE = 'automerge-paper'

const progress = (line) => process.stderr.write(`[store] ${line}\n`)
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const format = (n) => Math.round(n).toLocaleString('en-US')

function traceFile () {
  const local = new URL(`../test/fixtures/editing-traces/${TRACE}.json.gz`, import.meta.url)
  if (existsSync(local)) return local
  return new URL(`../../shared/data/editing-traces/${TRACE}.json.gz`, import.meta.url)
}

/** One Yjs update (format v1) per trace transaction, typed into Y.Text 'text'. */
function traceUpdates () {
  const trace = JSON.parse(gunzipSync(readFileSync(traceFile())).toString('utf8'))
  const doc = new Y.Doc()
  const text = doc.getText('text')
  const updates = []
  doc.on('update', (update) => updates.push(update))
  for (const { patches } of trace.txns) {
    doc.transact(() => {
      for (const [position, deleteCount, insert] of patches) {
        if (deleteCount > 0) text.delete(position, deleteCount)
        if (insert.length > 0) text.insert(position, insert)
      }
    })
  }
  if (text.toString() !== trace.endContent) throw new Error('trace replay does not reach endContent')
  return updates
}

function withFile (fn) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-bench-store-'))
  try {
    return fn(join(dir, 'store.db'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One transaction per update, back to back. Returns updates/s. */
function perUpdate (updates, synchronous) {
  return withFile((path) => {
    const storage = new SqliteStorage({ path, synchronous })
    const start = performance.now()
    for (let i = 0; i < updates.length; i++) storage.append([{ documentName: 'paper', seq: i + 1, update: updates[i] }])
    const seconds = (performance.now() - start) / 1000
    storage.close()
    return updates.length / seconds
  })
}

/**
 * Through the extension: `perTurn` onChange calls per event-loop turn, the next turn starting without
 * waiting for acks (as a server keeps reading sockets), then every ack awaited. The Y.Doc is updated
 * as the core does, outside the timing, for the size-bound compactions. `maxLogUpdates` Infinity
 * measures the log alone, like the one-transaction-per-update baseline. Returns updates/s.
 */
async function groupCommit (updates, perTurn, synchronous, maxLogUpdates = Infinity) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-bench-store-'))
  try {
    const extension = storageExtension(new SqliteStorage({ path: join(dir, 'store.db'), synchronous }), { maxLogUpdates })
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
    const seconds = (performance.now() - start - busy) / 1000
    await extension.onDestroy()
    return updates.length / seconds
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Load time of the same document from a 100,000-update log, then compacted. Returns ms and bytes. */
async function coldLoad (updates) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-bench-store-'))
  const path = join(dir, 'store.db')
  const load = async () => {
    const extension = storageExtension(new SqliteStorage({ path }), { maxLogUpdates: Infinity })
    const document = new Y.Doc()
    const start = performance.now()
    await extension.onLoadDocument({ documentName: 'paper', document })
    const ms = performance.now() - start
    return { ms, document, extension }
  }
  try {
    const storage = new SqliteStorage({ path })
    const log = updates.slice(0, COLD_LOG)
    storage.append(log.map((update, i) => ({ documentName: 'paper', seq: i + 1, update })))
    storage.close()
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
    rmSync(dir, { recursive: true, force: true })
  }
}

progress(`replaying ${TRACE}`)
const updates = traceUpdates()
progress(`${updates.length} updates`)

const rows = []
async function measure (label, run) {
  const results = []
  for (let round = 0; round < ROUNDS; round++) results.push(await run())
  const value = median(results)
  progress(`${label}: ${format(value)} updates/s`)
  rows.push([label, value])
}

await measure('one transaction per update, `synchronous=NORMAL`', () => perUpdate(updates, 'NORMAL'))
for (const perTurn of [1, 16, 256]) {
  await measure(`group commit, ${perTurn} update${perTurn > 1 ? 's' : ''} per turn, \`synchronous=NORMAL\``, () => groupCommit(updates, perTurn, 'NORMAL'))
}
// An fsync per update is slow enough that the first 2,000 updates tell the rate.
await measure('one transaction per update, `synchronous=FULL` (first 2,000 updates)', () => perUpdate(updates.slice(0, 2000), 'FULL'))
await measure('group commit, 16 updates per turn, `synchronous=FULL`', () => groupCommit(updates, 16, 'FULL'))
await measure('group commit, 16 updates per turn, `synchronous=NORMAL`, compacting every 10,000 updates (the default)', () => groupCommit(updates, 16, 'NORMAL', 10_000))

const loads = []
for (let round = 0; round < ROUNDS; round++) loads.push(await coldLoad(updates))
const cold = {
  logMs: median(loads.map((l) => l.logMs)),
  snapshotMs: median(loads.map((l) => l.snapshotMs)),
  logBytes: loads[0].logBytes,
  snapshotBytes: loads[0].snapshotBytes
}
progress(`cold load: ${cold.logMs.toFixed(0)} ms from the log, ${cold.snapshotMs.toFixed(1)} ms compacted`)

const baseline = rows[0][1]
const lines = [
  `Durable store, \`${TRACE}\` trace (${format(updates.length)} Yjs updates), SQLite WAL via better-sqlite3, ` +
    `Node ${process.versions.node}, ${cpus().length} cores (${cpus()[0].model.trim()}); median of ${ROUNDS} runs. Target: >= 20,000 updates/s.`,
  '',
  '| write path | updates/s | vs one transaction per update |',
  '| --- | ---: | ---: |',
  ...rows.map(([label, value]) => `| ${label} | ${format(value)} | ${(value / baseline).toFixed(2)} × |`),
  '',
  '| cold load of one document | time | bytes read (update blobs or snapshot) |',
  '| --- | ---: | ---: |',
  `| ${format(COLD_LOG)} updates in the log | ${cold.logMs.toFixed(0)} ms | ${format(cold.logBytes / 1024)} KiB |`,
  `| compacted into a snapshot | ${cold.snapshotMs.toFixed(1)} ms | ${format(cold.snapshotBytes / 1024)} KiB |`
]
process.stdout.write(lines.join('\n') + '\n')
