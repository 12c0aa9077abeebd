// `npm run replay -- <trace> [--clients N] [--url ws://127.0.0.1:1234] [--doc name] [--token demo]`
//
// Replays a real editing trace (test/fixtures/editing-traces/, josephg/editing-traces,
// CC BY 4.0) through a running example server (`npm start`) with real Hocuspocus clients,
// one update frame per trace transaction. A sequential trace is typed by the first client
// while the others watch; a concurrent trace (friendsforever, three-writers) is typed by one
// client per agent, any number of them, each transaction on top of exactly the state named by
// its `parents`.
//
// It shows a progress bar on stderr (acknowledged, i.e. durably stored, transactions), then
// prints updates/s, the acknowledgement latency, the bytes the store holds for the document,
// and the time to reload it from disk. The causal replay itself is test/helpers/traces.js,
// shared with the collab tests.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { createHistogram } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { loadTrace, planConcurrent, typeConcurrent, typeSequential } from '../test/helpers/traces.js'
import { untilDocs, waitFor, when } from '../test/helpers/wait.js'
import { textField } from './app.js'

/**
 * Reads a trace: a name from test/fixtures/editing-traces/ (`sveltecomponent`) or a path to
 * a `.json.gz` or `.json` file in the same format.
 * @param {string} trace
 * @returns {{ name: string, trace: ReturnType<typeof loadTrace> }}
 * @throws when the file is missing or is not JSON.
 */
export function readTrace (trace) {
  if (/^[A-Za-z0-9_-]+$/.test(trace)) return { name: trace, trace: loadTrace(trace) }
  const raw = readFileSync(trace)
  const json = trace.endsWith('.gz') ? gunzipSync(raw) : raw
  return { name: basename(trace).replace(/\.json(\.gz)?$/, ''), trace: JSON.parse(json.toString('utf8')) }
}

/**
 * Replays `trace` into document `documentName` on the server at `url`.
 *
 * @param {object} options
 * @param {ReturnType<typeof loadTrace>} options.trace
 * @param {string} options.url the server's base, `ws://host:port`; clients connect to `<url>/collab/<documentName>?token=<token>`.
 * @param {string} options.documentName
 * @param {number} [options.clients] connected clients, default (and at least) the trace's agent count (1 for a sequential trace).
 * @param {string} [options.token] the demo token, default `'demo'`.
 * @param {(done: number, total: number) => void} [options.onProgress] called with acknowledged transactions.
 * @param {number} [options.timeout] ms allowed for each wait (sync, parents, acknowledgement, unload), default 120000.
 * @returns {Promise<ReplayResult>}
 * @throws when the clients do not converge to `endContent`, or a wait times out.
 */
export async function replay ({ trace, url, documentName, clients, token = 'demo', onProgress = () => {}, timeout = 120_000 }) {
  const concurrent = trace.numAgents !== undefined && trace.txns[0]?.parents !== undefined
  const writers = concurrent ? trace.numAgents : 1
  const count = Math.max(clients ?? writers, writers)
  const socketUrl = `${url}/collab/${encodeURIComponent(documentName)}?token=${encodeURIComponent(token)}`
  const httpBase = url.replace(/^ws/, 'http')

  // Ascending client ids for the writers, as planConcurrent requires; random so that
  // replays into an existing document never reuse an id.
  const firstId = 1 + Math.floor(Math.random() * 2 ** 29)
  const providers = []
  const sent = new Array(writers).fill(0)
  try {
    for (let i = 0; i < count; i++) {
      const document = new Y.Doc()
      if (i < writers) document.clientID = firstId + i
      const provider = new HocuspocusProvider({ url: socketUrl, name: documentName, document, WebSocketPolyfill: WebSocket })
      if (i < writers) document.on('update', (update, origin) => { if (origin !== provider) sent[i]++ })
      providers.push(provider)
    }
    await Promise.all(providers.map(provider => when(provider, 'synced', { check: () => provider.isSynced, timeout, what: 'a client to sync' })))
    const docs = providers.map(provider => provider.document)
    if (docs[0].getText(textField).length > 0) throw new Error(`document "${documentName}" is not empty: replay into a new one (--doc)`)

    const total = trace.txns.length
    const plan = concurrent ? planConcurrent(trace, docs.slice(0, writers).map(doc => doc.clientID), textField) : null
    // The initial sync's SyncStatus must not be taken for the first update's.
    await Promise.all(providers.slice(0, writers).map(provider =>
      when(provider, 'unsyncedChanges', { check: () => provider.unsyncedChanges === 0, timeout, what: 'the initial sync to be acknowledged' })))
    const latency = createHistogram()
    const untrack = providers.slice(0, writers).map(provider => trackAcknowledgements(provider, latency))
    const acknowledged = () => sent.reduce((sum, n, i) => sum + n - providers[i].unsyncedChanges, 0)
    const progress = setInterval(() => onProgress(acknowledged(), total), 100)
    const started = performance.now()
    try {
      if (plan !== null) {
        await Promise.all(docs.slice(0, writers).map((doc, agent) => typeConcurrent(doc, plan, agent, { timeout })))
      } else {
        await typeSequential(docs[0], trace, textField)
      }
      await Promise.all(providers.slice(0, writers).map(provider =>
        when(provider, 'unsyncedChanges', { check: () => provider.unsyncedChanges === 0, timeout, what: 'every acknowledgement' })))
      await untilDocs(docs, () => docs.every(doc => doc.getText(textField).toString() === trace.endContent),
        { timeout, what: 'every client to hold endContent' })
    } finally {
      clearInterval(progress)
      for (const stop of untrack) stop()
    }
    const seconds = (performance.now() - started) / 1000
    onProgress(acknowledged(), total)

    // The last disconnect stores and unloads the document; after that, the server reads it
    // back from SQLite. No event reaches a client for the unload, so poll the server.
    for (const provider of providers.splice(0)) provider.destroy()
    let stored
    await waitFor(async () => {
      stored = await fetchJson(`${httpBase}/api/documents/${encodeURIComponent(documentName)}`)
      return !stored.loaded
    }, { timeout, interval: 50, what: 'the server to unload the document' })
    if (stored.text !== trace.endContent) throw new Error('the text read back from disk differs from endContent')

    const coldStarted = performance.now()
    const reader = new HocuspocusProvider({ url: socketUrl, name: documentName, document: new Y.Doc(), WebSocketPolyfill: WebSocket })
    providers.push(reader)
    await when(reader, 'synced', { check: () => reader.isSynced, timeout, what: 'the cold reader to sync' })
    const coldOpenMs = performance.now() - coldStarted
    if (reader.document.getText(textField).toString() !== trace.endContent) throw new Error('a fresh client loaded a text that differs from endContent')

    return {
      transactions: total,
      clients: count,
      writers,
      seconds,
      updatesPerSecond: total / seconds,
      acknowledgements: latency.count,
      ackP50Ms: latency.percentile(50) / 1000,
      ackP99Ms: latency.percentile(99) / 1000,
      bytesStored: stored.snapshotBytes + stored.logBytes,
      logUpdates: stored.logUpdates,
      reloadMs: stored.reloadMs,
      coldOpenMs,
      characters: trace.endContent.length
    }
  } finally {
    for (const provider of providers) provider.destroy()
  }
}

/**
 * @typedef {object} ReplayResult
 * @property {number} transactions trace transactions typed, one update frame each.
 * @property {number} clients connected clients; `writers` of them typed.
 * @property {number} writers
 * @property {number} seconds from the first keystroke until every update was acknowledged and every client converged.
 * @property {number} updatesPerSecond `transactions / seconds`.
 * @property {number} acknowledgements update frames the typists sent and got a SyncStatus for.
 * @property {number} ackP50Ms median time from an update frame sent to its SyncStatus, in ms.
 * @property {number} ackP99Ms 99th percentile of the same, in ms.
 * @property {number} bytesStored the document's snapshot plus its update log in SQLite, in bytes, after the unload.
 * @property {number} logUpdates updates left in the log after the unload (compaction leaves 0).
 * @property {number} reloadMs the server's time to read the document from SQLite and apply it to a fresh Y.Doc, in ms.
 * @property {number} coldOpenMs a new client's time from connecting to synced while the document was unloaded, in ms.
 * @property {number} characters the length of `endContent`.
 */

/**
 * Records into `histogram` (microseconds) the time from each update frame `provider` sends
 * to the SyncStatus that acknowledges it. The provider counts both in `unsyncedChanges`
 * (up just before it sends an update, down for each SyncStatus), and the server acknowledges
 * a client's updates in the order they came, so they pair first in, first out.
 * @param {HocuspocusProvider} provider a provider with no unacknowledged update.
 * @param {import('node:perf_hooks').RecordableHistogram} histogram
 * @returns {() => void} stops recording.
 */
function trackAcknowledgements (provider, histogram) {
  const sentAt = []
  let acknowledged = 0
  const listener = ({ number }) => {
    const now = performance.now()
    while (sentAt.length - acknowledged < number) sentAt.push(now)
    while (sentAt.length - acknowledged > number) histogram.record(Math.max(1, Math.round((now - sentAt[acknowledged++]) * 1000)))
  }
  provider.on('unsyncedChanges', listener)
  return () => provider.off('unsyncedChanges', listener)
}

async function fetchJson (url) {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  return response.json()
}

function progressBar (stream) {
  let last = -1
  return (done, total) => {
    const fraction = total === 0 ? 1 : done / total
    if (stream.isTTY) {
      const width = 30
      const filled = Math.round(fraction * width)
      stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} acknowledged`)
      if (done === total) stream.write('\n')
      return
    }
    // Not a terminal (a log file, CI): one line per quarter instead of carriage returns.
    const quarter = Math.floor(fraction * 4)
    if (quarter === last) return
    last = quarter
    stream.write(`[${'#'.repeat(quarter * 5)}${'-'.repeat(20 - quarter * 5)}] ${done}/${total} acknowledged\n`)
  }
}

async function main () {
  const usage = 'usage: npm run replay -- <trace> [--clients N] [--url ws://127.0.0.1:1234] [--doc name] [--token demo]'
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      clients: { type: 'string' },
      url: { type: 'string', default: `ws://127.0.0.1:${process.env.PORT ?? 1234}` },
      doc: { type: 'string' },
      token: { type: 'string', default: process.env.DEMO_TOKEN ?? 'demo' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help || positionals.length !== 1) {
    process.stderr.write(`${usage}\ntraces: sveltecomponent, friendsforever, three-writers, automerge-paper, or a path to a .json.gz\n`)
    process.exitCode = values.help ? 0 : 2
    return
  }
  const clients = values.clients === undefined ? undefined : Number(values.clients)
  if (clients !== undefined && !(Number.isInteger(clients) && clients >= 1)) {
    process.stderr.write(`--clients must be a positive integer\n${usage}\n`)
    process.exitCode = 2
    return
  }
  const { name, trace } = readTrace(positionals[0])
  const documentName = values.doc ?? `replay-${name}-${Date.now().toString(36)}`
  process.stderr.write(`replaying ${name} (${trace.txns.length} transactions) into "${documentName}" at ${values.url}\n`)
  const result = await replay({ trace, url: values.url.replace(/\/+$/, ''), documentName, clients, token: values.token, onProgress: progressBar(process.stderr) })
  const httpUrl = values.url.replace(/^ws/, 'http').replace(/\/+$/, '')
  process.stdout.write([
    `trace:          ${name}, ${result.transactions} transactions, ${result.writers} typing / ${result.clients} connected`,
    `updates/s:      ${Math.round(result.updatesPerSecond)} (${result.seconds.toFixed(2)} s until every update was acknowledged)`,
    `acknowledged:   p50 ${result.ackP50Ms.toFixed(1)} ms, p99 ${result.ackP99Ms.toFixed(1)} ms from an update frame sent to its SyncStatus (${result.acknowledgements} updates)`,
    `bytes stored:   ${result.bytesStored} (${result.characters} characters; ${result.logUpdates} updates left in the log)`,
    `reload (disk):  ${result.reloadMs.toFixed(1)} ms to read and apply; a new client synced in ${result.coldOpenMs.toFixed(1)} ms`,
    `open:           ${httpUrl}/?doc=${encodeURIComponent(documentName)}`
  ].join('\n') + '\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`\nreplay failed: ${error.message}\n`)
    process.exitCode = 1
  })
}
