// Document history's benchmark: `node bench/history.js [--quick]` prints a markdown table on stdout (progress
// goes to stderr). It loads fastify-collab from dist/ (npm run build first). Store: SQLite (better-sqlite3,
// synchronous=NORMAL) in a temporary folder; the app runs in this process, documents reached through direct
// connections, as a server-side job would.
//
// - A 1 MiB document: 16,384 inserts of 64 characters at random places (so the state has many items, as an
//   edited document does). `versions.create` timed (state taken, stored, retention applied) with the
//   version's bytes; then `versions.restore` of it after 200 random edits, timed, with the bytes of the one
//   change it makes (what every client receives). The text has a paragraph break every 200 characters or so.
// - The `automerge-paper` trace (259,778 keystrokes, CC BY 4.0, josephg/editing-traces) replayed through a
//   direct connection with a simulated clock (the history's `clock` option), under the default policy
//   (a version every 10 minutes of edits and when the last connection leaves; everything for 24 hours, then
//   one per hour to 30 days, then one per day), in two regimes:
//   - sessions: one keystroke per second in a 2-hour session a day (the connection leaves at its end), so
//     36 days of writing, long enough for every tier of the policy;
//   - continuous: one keystroke per second without a break, 72 hours.
//   Then the store's size: the versions' bytes, the snapshot and the log, the file, against the final state.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import * as Y from 'yjs'
import fastifyCollab, { createVersions } from 'fastify-collab'
import { SqliteStorage, storageExtension } from 'fastify-collab/sqlite'
import { fakeClock } from '../test/helpers/clock.js'
import { loadTrace } from './lib/trace.js'
import { median } from './lib/stats.js'

const require = createRequire(import.meta.url)
const QUICK = process.argv.includes('--quick')
const progress = (line) => process.stderr.write(`[history] ${line}\n`)
const KiB = 1024
const SECOND = 1000
const HOUR = 3600 * SECOND
const DAY = 24 * HOUR

let seed = 42
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
const WORDS = 'the of and a to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(' ')
// Words, with a paragraph break after about one in forty.
const words = (length) => {
  let out = ''
  while (out.length < length) out += WORDS[Math.floor(random() * WORDS.length)] + (random() < 0.025 ? '\n' : ' ')
  return out.slice(0, length)
}

async function open (path, clock) {
  const storage = new SqliteStorage({ path, driver: 'better-sqlite3' })
  const history = createVersions({ storage, clock })
  const app = Fastify({ logger: false })
  await app.register(fastifyCollab, { extensions: [storageExtension(storage), history.extension] })
  await app.ready()
  return { app, versions: history.bind(app.collab) }
}

/** What the store holds, read through another connection after a checkpoint. */
function sizes (path) {
  const Database = require('better-sqlite3')
  const db = new Database(path)
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
    const versions = db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes, sum(label IS NULL AND reason <> \'restore\') AS thinnable FROM collab_versions').get()
    const snapshots = db.prepare('SELECT coalesce(sum(length(state)), 0) AS bytes FROM collab_snapshots').get()
    const log = db.prepare('SELECT coalesce(sum(length(data)), 0) AS bytes FROM collab_updates').get()
    const tiers = db.prepare('SELECT reason, count(*) AS n FROM collab_versions GROUP BY reason ORDER BY reason').all()
    return { versions: versions.n, versionBytes: versions.bytes, snapshotBytes: snapshots.bytes, logBytes: log.bytes, file: statSync(path).size, tiers }
  } finally {
    db.close()
  }
}

// --- a 1 MiB document ----------------------------------------------------------------------------------------

async function bigDocument (dir) {
  const path = join(dir, 'big.db')
  const clock = fakeClock()
  const { app, versions } = await open(path, clock)
  const connection = await app.collab.openDirectConnection('big')
  const text = connection.document.getText('text')
  const inserts = QUICK ? 2048 : 16384
  let pending = []
  for (let i = 0; i < inserts; i++) {
    pending.push(connection.transact(() => text.insert(Math.floor(random() * (text.length + 1)), words(64))))
    if (pending.length === 256) {
      await Promise.all(pending)
      pending = []
    }
  }
  await Promise.all(pending)
  const state = Y.encodeStateAsUpdate(connection.document).byteLength
  progress(`document: ${text.length} characters, state ${state} bytes`)

  const creates = []
  let version
  for (let i = 0; i < 7; i++) {
    clock.advance(SECOND)
    const start = performance.now()
    version = await versions.create('big')
    creates.push(performance.now() - start)
  }
  progress(`create: ${creates.map((ms) => ms.toFixed(1)).join(', ')} ms`)

  const restores = []
  const changes = []
  for (let round = 0; round < 5; round++) {
    await connection.transact(() => {
      for (let i = 0; i < 200; i++) {
        const at = Math.floor(random() * text.length)
        if (random() < 0.5) text.delete(at, Math.min(1 + Math.floor(random() * 12), text.length - at))
        else text.insert(at, words(1 + Math.floor(random() * 12)))
      }
    })
    clock.advance(SECOND)
    let bytes = 0
    const count = (update, origin) => { if (origin !== null && origin?.source === 'direct' && origin !== connection) bytes += update.byteLength }
    connection.document.on('update', count)
    const start = performance.now()
    const { roots } = await versions.restore('big', version.id)
    restores.push(performance.now() - start)
    connection.document.off('update', count)
    changes.push(bytes)
    if (text.toString() !== (await versions.get('big', version.id)).getText('text').toString()) throw new Error('restore did not restore')
    progress(`restore: ${restores[round].toFixed(1)} ms, ${bytes} bytes, ${JSON.stringify(roots)}`)
  }
  await connection.disconnect()
  await app.close()
  return { characters: text.length, state, versionBytes: version.size, create: median(creates), restore: median(restores), restoreChange: median(changes) }
}

// --- the automerge-paper trace ------------------------------------------------------------------------------

async function replay (dir, name, { keystroke, session, gap }) {
  const path = join(dir, `${name}.db`)
  const clock = fakeClock()
  const started = clock.now()
  const { app } = await open(path, clock)
  const trace = loadTrace('automerge-paper')
  const txns = QUICK ? trace.txns.slice(0, 30_000) : trace.txns
  let connection = null
  let pending = []
  const wall = performance.now()
  for (let i = 0; i < txns.length; i++) {
    if (connection === null || (session !== Infinity && i % session === 0)) {
      await Promise.all(pending)
      pending = []
      if (connection !== null) {
        await connection.disconnect()
        clock.advance(gap)
      }
      connection = await app.collab.openDirectConnection('paper')
    }
    clock.advance(keystroke)
    const text = connection.document.getText('text')
    pending.push(connection.transact(() => {
      for (const [position, deleteCount, insert] of txns[i].patches) {
        if (deleteCount > 0) text.delete(position, deleteCount)
        if (insert.length > 0) text.insert(position, insert)
      }
    }))
    if (pending.length === 256) {
      await Promise.all(pending)
      pending = []
    }
  }
  await Promise.all(pending)
  const final = Y.encodeStateAsUpdate(connection.document).byteLength
  const characters = connection.document.getText('text').length
  if (!QUICK && connection.document.getText('text').toString() !== trace.endContent) throw new Error('the replay did not reach endContent')
  await connection.disconnect()
  await app.close()
  const seconds = (performance.now() - wall) / 1000
  const held = sizes(path)
  progress(`${name}: ${JSON.stringify(held)}, final state ${final} bytes, ${seconds.toFixed(0)} s`)
  return { name, simulated: clock.now() - started, final, characters, seconds, ...held }
}

// --- report -------------------------------------------------------------------------------------------------

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const kib = (bytes) => `${fmt(bytes / KiB, bytes < 100 * KiB ? 1 : 0)} KiB`

const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-bench-history-'))
try {
  const load = loadavg()[0]
  const big = await bigDocument(dir)
  const sessions = await replay(dir, 'sessions', { keystroke: SECOND, session: 7200, gap: DAY - 2 * HOUR })
  const continuous = await replay(dir, 'continuous', { keystroke: SECOND, session: Infinity, gap: 0 })
  const after = loadavg()[0]
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  console.log(`Document history, Node ${process.versions.node}, ${cpus().length} cores (${cpu}); load average ${load.toFixed(1)} before, ${after.toFixed(1)} after. ` +
    `SQLite (better-sqlite3, synchronous=NORMAL), app and store in this process, no client over the network${QUICK ? '; --quick (smaller sizes: figures not comparable)' : ''}.\n`)
  console.log('| a 1 MiB document | |')
  console.log('| --- | ---: |')
  console.log(`| the document | ${fmt(big.characters)} characters typed in ${QUICK ? '2,048' : '16,384'} inserts; state ${kib(big.state)} |`)
  console.log(`| \`versions.create\` (state taken, stored, retention applied), median of 7 | ${fmt(big.create, 1)} ms, ${kib(big.versionBytes)} stored |`)
  console.log(`| \`versions.restore\` after 200 random edits (state before stored, character diff, one change through the hooks and the store), median of 5 | ${fmt(big.restore, 1)} ms; the change: ${kib(big.restoreChange)} |`)
  console.log('')
  console.log('| `automerge-paper` replayed, default policy, simulated clock | sessions: 1 keystroke/s, 2 h a day | continuous: 1 keystroke/s |')
  console.log('| --- | ---: | ---: |')
  console.log(`| simulated time | ${fmt(sessions.simulated / DAY, 1)} days | ${fmt(continuous.simulated / HOUR, 1)} hours |`)
  console.log(`| final document: characters, state | ${fmt(sessions.characters)}, ${kib(sessions.final)} | ${fmt(continuous.characters)}, ${kib(continuous.final)} |`)
  console.log(`| versions kept (by reason) | ${sessions.versions} (${sessions.tiers.map((t) => `${t.reason} ${t.n}`).join(', ')}) | ${continuous.versions} (${continuous.tiers.map((t) => `${t.reason} ${t.n}`).join(', ')}) |`)
  console.log(`| versions' bytes | ${kib(sessions.versionBytes)} (${fmt(sessions.versionBytes / sessions.final, 1)}× the final state) | ${kib(continuous.versionBytes)} (${fmt(continuous.versionBytes / continuous.final, 1)}× the final state) |`)
  console.log(`| snapshot + log | ${kib(sessions.snapshotBytes + sessions.logBytes)} | ${kib(continuous.snapshotBytes + continuous.logBytes)} |`)
  console.log(`| SQLite file (after a checkpoint) | ${kib(sessions.file)} (${fmt(sessions.file / sessions.final, 1)}×) | ${kib(continuous.file)} (${fmt(continuous.file / continuous.final, 1)}×) |`)
  console.log(`| wall time of the replay | ${fmt(sessions.seconds)} s | ${fmt(continuous.seconds)} s |`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
