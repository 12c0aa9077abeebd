import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteStorage } from 'fastify-collab/sqlite'
import { readTables, tempDir } from './support.js'

const bytes = (...values) => new Uint8Array(values)

test('an unknown document loads empty', (t) => {
  const storage = new SqliteStorage({ path: join(tempDir(t), 'a.db') })
  t.after(() => storage.close())
  assert.deepEqual(storage.load('nothing'), { snapshot: null, updates: [], seq: 0 })
})

test('append writes entries of several documents in one call; load returns them in seq order', (t) => {
  const path = join(tempDir(t), 'nested', 'dir', 'a.db')
  const storage = new SqliteStorage({ path })
  t.after(() => storage.close())
  storage.append([
    { documentName: 'a', seq: 1, update: bytes(1) },
    { documentName: 'b', seq: 1, update: bytes(9) },
    { documentName: 'a', seq: 2, update: bytes(2, 2) }
  ])
  const a = storage.load('a')
  assert.equal(a.snapshot, null)
  assert.deepEqual(a.updates.map((u) => [...u]), [[1], [2, 2]])
  assert.equal(a.seq, 2)
  assert.deepEqual(storage.load('b').updates.map((u) => [...u]), [[9]])
  assert.equal(readTables(path).updates.length, 3, 'committed, visible to another connection')
})

test('an entry already stored is ignored, so a retried batch is harmless', (t) => {
  const storage = new SqliteStorage({ path: join(tempDir(t), 'a.db') })
  t.after(() => storage.close())
  storage.append([{ documentName: 'a', seq: 1, update: bytes(1) }])
  storage.append([{ documentName: 'a', seq: 1, update: bytes(1) }, { documentName: 'a', seq: 2, update: bytes(2) }])
  assert.deepEqual(storage.load('a').updates.map((u) => [...u]), [[1], [2]])
})

test('compact replaces the snapshot and drops the log up to its seq; load gives snapshot plus the rest', (t) => {
  const path = join(tempDir(t), 'a.db')
  const storage = new SqliteStorage({ path })
  t.after(() => storage.close())
  storage.append([1, 2, 3, 4].map((seq) => ({ documentName: 'a', seq, update: bytes(seq) })))
  storage.append([{ documentName: 'b', seq: 1, update: bytes(7) }])
  storage.compact('a', bytes(0xaa), 3)
  let a = storage.load('a')
  assert.deepEqual([...a.snapshot], [0xaa])
  assert.deepEqual(a.updates.map((u) => [...u]), [[4]])
  assert.equal(a.seq, 4)
  assert.deepEqual(readTables(path).updates.map((r) => [r.document, r.seq]), [['a', 4], ['b', 1]], 'other documents untouched')

  storage.compact('a', bytes(0xbb), 4)
  a = storage.load('a')
  assert.deepEqual([...a.snapshot], [0xbb])
  assert.deepEqual(a.updates, [])
  assert.equal(a.seq, 4, 'the seq survives in the snapshot once the log is empty')

  // A late append of a seq the snapshot already covers is skipped on load.
  storage.append([{ documentName: 'a', seq: 3, update: bytes(3) }])
  assert.deepEqual(storage.load('a').updates, [])
})

test('the file is in WAL mode and keeps its data across instances', (t) => {
  const path = join(tempDir(t), 'a.db')
  const first = new SqliteStorage({ path, synchronous: 'FULL' })
  first.append([{ documentName: 'a', seq: 1, update: bytes(1) }])
  first.close()
  const db = new Database(path, { readonly: true })
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  db.close()
  const second = new SqliteStorage({ path })
  t.after(() => second.close())
  assert.deepEqual(second.load('a').updates.map((u) => [...u]), [[1]])
})

test('bad options and unusable files throw coded errors', (t) => {
  const dir = tempDir(t)
  assert.throws(() => new SqliteStorage({}), (error) => error instanceof TypeError && error.code === 'FST_COLLAB_INVALID_OPTION')
  assert.throws(() => new SqliteStorage({ path: join(dir, 'a.db'), synchronous: 'OFF' }), { code: 'FST_COLLAB_INVALID_OPTION' })
  assert.throws(() => new SqliteStorage({ path: join(dir, 'a.db'), busyTimeout: -1 }), { code: 'FST_COLLAB_INVALID_OPTION' })
  mkdirSync(join(dir, 'a-directory'))
  assert.throws(() => new SqliteStorage({ path: join(dir, 'a-directory') }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_STORAGE_OPEN')
    assert.match(error.cause.code, /^SQLITE_/)
    return true
  })
})

test('a closed storage refuses calls instead of reopening the file', (t) => {
  const storage = new SqliteStorage({ path: join(tempDir(t), 'a.db') })
  storage.close()
  assert.throws(() => storage.load('a'), { code: 'FST_COLLAB_STORAGE_CLOSED' })
  assert.throws(() => storage.append([{ documentName: 'a', seq: 1, update: bytes(1) }]), { code: 'FST_COLLAB_STORAGE_CLOSED' })
})
