import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { sqlite } from 'fastify-collab/sqlite'
import { when } from '../helpers/wait.js'
import { captureLog, change, readTables, tempDir, typedUpdates } from './support.js'

const retry = { initialDelay: 5, maxDelay: 20 }

/** Resolves with the next logged error whose code is `code`. */
function logged ({ events }, code) {
  return when(events, 'line', { predicate: (line) => line.err?.code === code, what: `a logged ${code}` }).then(([line]) => line)
}

/** Tracks whether a promise has settled, without waiting for it. */
function track (promise) {
  const state = { settled: false }
  promise.then(() => { state.settled = true }, () => { state.settled = true })
  return state
}

// `chattr +i` makes a file immutable even for root, which chmod cannot; it needs root and a file system
// with inode flags (ext4, xfs, btrfs).
function chattr (flag, ...files) {
  execFileSync('chattr', [flag, ...files], { stdio: 'pipe' })
}
function chattrWorks (dir) {
  try {
    const probe = join(dir, 'probe')
    execFileSync('touch', [probe])
    chattr('+i', probe)
    chattr('-i', probe)
    return true
  } catch {
    return false
  }
}

/** Skips where chattr cannot make a file read-only; under CI=true that is a failure, never a skip. */
function skipWithoutChattr (t, dir) {
  if (chattrWorks(dir)) return false
  const message = 'chattr +i is not available here (needs root and ext4/xfs/btrfs)'
  if (process.env.CI === 'true') assert.fail(`${message}: CI must run the read-only tests`)
  t.skip(message)
  return true
}

async function loaded (extension, documentName = 'doc') {
  const document = new Y.Doc()
  await extension.onLoadDocument({ documentName, document })
  return document
}

test('a database locked by another connection: logged with a code, kept in memory, acknowledged after the retry commits', { timeout: 10_000 }, async (t) => {
  const path = join(tempDir(t), 'a.db')
  const capture = captureLog()
  const extension = sqlite({ path, retry, log: capture.log })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  const { updates, doc: source } = typedUpdates(6)

  const other = new Database(path)
  other.exec('BEGIN EXCLUSIVE')
  const first = capture.lines.length
  const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  const acks = updates.slice(0, 3).map((update) => extension.onChange(change('doc', doc, update)))
  const states = acks.map(track)
  const line = await failed
  assert.equal(line.level, 50, 'logged at error level')
  assert.match(line.err.message, /Could not append 3 update\(s\)/)
  assert.equal(line.causeCode, 'SQLITE_BUSY')

  // More updates arrive while the database is locked; they join the retried batch.
  await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  acks.push(...updates.slice(3).map((update) => extension.onChange(change('doc', doc, update))))
  await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  assert.ok(states.every((state) => !state.settled), 'no acknowledgement while the write fails')
  assert.ok(capture.lines.length - first >= 3)

  other.exec('COMMIT')
  other.close()
  await Promise.all(acks)
  assert.deepEqual(readTables(path).updates.map((row) => row.seq), [1, 2, 3, 4, 5, 6])
  await extension.onStoreDocument({ documentName: 'doc', document: doc })
  const check = new Y.Doc()
  Y.applyUpdate(check, readTables(path).snapshots[0].state)
  assert.equal(check.getText('text').toString(), source.getText('text').toString())
})

test('a file that turns read-only (immutable) under an open store: logged, retried, nothing lost', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t)
  if (skipWithoutChattr(t, dir)) return
  const path = join(dir, 'a.db')
  // Not the -shm file: SQLite maps it into memory, and a write to an immutable mapping is SIGBUS.
  const files = [path, `${path}-wal`]
  const capture = captureLog()
  const extension = sqlite({ path, retry, log: capture.log })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  const { updates } = typedUpdates(4)
  await extension.onChange(change('doc', doc, updates[0]))

  chattr('+i', ...files)
  t.after(() => { try { chattr('-i', ...files) } catch {} })
  const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  const acks = updates.slice(1).map((update) => extension.onChange(change('doc', doc, update)))
  const states = acks.map(track)
  const line = await failed
  assert.match(line.causeCode, /^SQLITE_(IOERR|READONLY)/)
  await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  assert.ok(states.every((state) => !state.settled))

  chattr('-i', ...files)
  await Promise.all(acks)
  assert.deepEqual(readTables(path).updates.map((row) => row.seq), [1, 2, 3, 4])
})

test('a store opened on a read-only file reopens it once it is writable again', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t)
  if (skipWithoutChattr(t, dir)) return
  const path = join(dir, 'a.db')
  sqlite({ path }).onDestroy()
  chattr('+i', path)
  t.after(() => { try { chattr('-i', path) } catch {} })

  const capture = captureLog()
  const extension = sqlite({ path, retry, log: capture.log })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  const ack = extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
  assert.match((await failed).causeCode, /^SQLITE_READONLY/)
  chattr('-i', path)
  await ack
  assert.equal(readTables(path).updates.length, 1)
})

test('updates that still cannot be written at close are reported as lost, and their promises reject', { timeout: 10_000 }, async (t) => {
  const path = join(tempDir(t), 'a.db')
  const capture = captureLog()
  const extension = sqlite({ path, retry: { initialDelay: 60_000 }, log: capture.log })
  const doc = await loaded(extension)
  const other = new Database(path)
  t.after(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  const ack = extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
  await failed
  const lost = logged(capture, 'FST_COLLAB_STORAGE_LOST')
  await extension.onDestroy()
  assert.match((await lost).err.message, /closed with 1 update/)
  await assert.rejects(ack, { code: 'FST_COLLAB_STORAGE_LOST' })
  other.exec('ROLLBACK')
})

test('a failed compaction on store rejects with a code and keeps the log', { timeout: 10_000 }, async (t) => {
  const path = join(tempDir(t), 'a.db')
  const extension = sqlite({ path, retry })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  await extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
  const other = new Database(path)
  other.exec('BEGIN EXCLUSIVE')
  await assert.rejects(extension.onStoreDocument({ documentName: 'doc', document: doc }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_STORAGE_COMPACT')
    assert.equal(error.cause.code, 'SQLITE_BUSY')
    return true
  })
  other.exec('COMMIT')
  other.close()
  assert.equal(readTables(path).updates.length, 1)
  await extension.onStoreDocument({ documentName: 'doc', document: doc })
  assert.equal(readTables(path).updates.length, 0)
})
