// CollabStorage on one SQLite file through better-sqlite3: an update log and
// a snapshot table. better-sqlite3 is loaded here and nowhere else, so users
// of the core never need the native module.

import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import type { CollabStorage, LogEntry, StoredDocument } from '../storage/storage.js'
import { FST_COLLAB_INVALID_OPTION, FST_COLLAB_SQLITE_MISSING, FST_COLLAB_SQLITE_UNSUPPORTED, FST_COLLAB_STORAGE_CLOSED, FST_COLLAB_STORAGE_OPEN } from '../errors.js'

/**
 * `PRAGMA synchronous` in WAL mode (https://www.sqlite.org/pragma.html#pragma_synchronous,
 * https://www.sqlite.org/wal.html#durability):
 *
 * - `'NORMAL'` (default): a commit is written to the WAL file but not fsynced; the WAL is fsynced at each
 *   checkpoint. A process crash (SIGKILL, OOM kill, a throw) loses nothing committed, because the
 *   operating system still holds the written pages. A power loss or kernel crash may roll back the last
 *   transactions since the previous checkpoint, so updates that clients saw acknowledged can be lost;
 *   the database itself stays consistent.
 * - `'FULL'`: every commit fsyncs the WAL, so an acknowledged update survives power loss too. It costs one
 *   fsync per group commit (one per event-loop turn, not per update).
 */
export type Synchronous = 'NORMAL' | 'FULL'

/** Options of {@link SqliteStorage}. */
export interface SqliteStorageOptions {
  /** Path of the SQLite file. Created, with its directory, if missing. Its `-wal` and `-shm` files sit beside it. */
  path: string
  /** Durability of a commit against power loss; see {@link Synchronous}. Default `'NORMAL'`. */
  synchronous?: Synchronous
  /**
   * How long a write waits for another connection's lock, in ms, before failing with SQLITE_BUSY.
   * better-sqlite3 waits synchronously, blocking the event loop, so the default is 0: a busy database
   * fails at once and the extension retries it with backoff, without blocking.
   */
  busyTimeout?: number
}

type Database = BetterSqlite3.Database

interface Statements {
  insert: BetterSqlite3.Statement<[string, number, Uint8Array]>
  snapshot: BetterSqlite3.Statement<[string], [number, Buffer]>
  updates: BetterSqlite3.Statement<[string, number], [number, Buffer]>
  upsertSnapshot: BetterSqlite3.Statement<[string, number, Uint8Array]>
  deleteUpdates: BetterSqlite3.Statement<[string, number]>
}

interface Connection {
  db: Database
  append: (entries: readonly LogEntry[]) => void
  load: (documentName: string) => StoredDocument
  compact: (documentName: string, state: Uint8Array, upToSeq: number) => void
}

// Primary keys keep each document's log in seq order on disk, so a load is one range scan.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS collab_updates (
  document TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (document, seq)
);
CREATE TABLE IF NOT EXISTS collab_snapshots (
  document TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state BLOB NOT NULL
);`

// Node 24.19 made node::ObjectWrap's destructor require an Environment;
// better-sqlite3 12 and older still use it, and abort the process from a GC.
function unsafeOnThisNode (driverVersion: string): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number)
  return Number(driverVersion.split('.')[0]) < 13 && (major > 24 || (major === 24 && minor >= 19))
}

function loadDriver (): typeof BetterSqlite3 {
  const require = createRequire(import.meta.url)
  let driver: typeof BetterSqlite3
  let version: string
  try {
    driver = require('better-sqlite3') as typeof BetterSqlite3
    version = (require('better-sqlite3/package.json') as { version: string }).version
  } catch (cause) {
    throw new FST_COLLAB_SQLITE_MISSING({ cause })
  }
  if (unsafeOnThisNode(version)) throw new FST_COLLAB_SQLITE_UNSUPPORTED(version, process.versions.node)
  return driver
}

// better-sqlite3 binds Buffers, not plain Uint8Arrays; this view shares the memory.
function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

// A connection that opened read-only (the file was not writable at the time) stays read-only, and one
// that could not open stays unusable: after these errors the next call reopens the file.
function sqliteCode (error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : ''
}

function needsReopen (error: unknown): boolean {
  const code = sqliteCode(error)
  return code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')
}

// Another connection holds the lock for now (a backup, a rolling restart): worth another try.
function isTransient (error: unknown): boolean {
  const code = sqliteCode(error)
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')
}

/**
 * The SQLite {@link CollabStorage}: tables `collab_updates (document, seq, data)` and
 * `collab_snapshots (document, seq, state)` in one file, in WAL mode. Every call is synchronous.
 *
 * The constructor opens the file and throws FST_COLLAB_STORAGE_OPEN when it cannot (bad path, not a
 * database, schema creation refused), FST_COLLAB_SQLITE_MISSING when better-sqlite3 is not installed, and
 * FST_COLLAB_INVALID_OPTION (a TypeError) for a bad option. A file that is only locked for now
 * (SQLITE_BUSY, SQLITE_LOCKED) is opened on first use instead, where failures are logged and retried.
 * Later calls throw better-sqlite3's SqliteError (`code` e.g. SQLITE_BUSY, SQLITE_READONLY,
 * SQLITE_IOERR_WRITE, SQLITE_FULL), which the extension logs and retries; after `close()` they throw
 * FST_COLLAB_STORAGE_CLOSED.
 */
export class SqliteStorage implements CollabStorage {
  readonly #driver: typeof BetterSqlite3
  readonly #options: Required<SqliteStorageOptions>
  #connection: Connection | null
  #closed = false

  constructor (options: SqliteStorageOptions) {
    const { path, synchronous = 'NORMAL', busyTimeout = 0 } = options
    if (typeof path !== 'string' || path === '') throw new FST_COLLAB_INVALID_OPTION('path', 'a file path is required')
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new FST_COLLAB_INVALID_OPTION('synchronous', 'use "NORMAL" or "FULL"')
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) throw new FST_COLLAB_INVALID_OPTION('busyTimeout', 'use a whole number of ms >= 0')
    this.#driver = loadDriver()
    this.#options = { path, synchronous, busyTimeout }
    try {
      mkdirSync(dirname(options.path), { recursive: true })
      this.#connection = this.#open()
    } catch (cause) {
      if (!isTransient(cause)) throw new FST_COLLAB_STORAGE_OPEN(options.path, { cause })
      this.#connection = null
    }
  }

  /** Reads the snapshot and the log after it, in one read transaction. @throws SqliteError, FST_COLLAB_STORAGE_CLOSED. */
  load (documentName: string): StoredDocument {
    return this.#use((connection) => connection.load(documentName))
  }

  /** Inserts every entry in one transaction; an entry already stored (same document and seq) is ignored. @throws SqliteError, FST_COLLAB_STORAGE_CLOSED. */
  append (entries: readonly LogEntry[]): void {
    this.#use((connection) => connection.append(entries))
  }

  /** Replaces the snapshot with `state` (Yjs update v1) and deletes the log up to `upToSeq`, in one transaction. @throws SqliteError, FST_COLLAB_STORAGE_CLOSED. */
  compact (documentName: string, state: Uint8Array, upToSeq: number): void {
    this.#use((connection) => connection.compact(documentName, state, upToSeq))
  }

  /** Closes the database; later calls throw FST_COLLAB_STORAGE_CLOSED. */
  close (): void {
    this.#closed = true
    this.#disconnect()
  }

  #disconnect (): void {
    this.#connection?.db.close()
    this.#connection = null
  }

  #use<T> (fn: (connection: Connection) => T): T {
    if (this.#closed) throw new FST_COLLAB_STORAGE_CLOSED()
    try {
      this.#connection ??= this.#open()
      return fn(this.#connection)
    } catch (error) {
      if (needsReopen(error)) this.#disconnect()
      throw error
    }
  }

  #open (): Connection {
    const { path, synchronous, busyTimeout } = this.#options
    const db = new this.#driver(path, { timeout: busyTimeout })
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}", WAL is not available for this file`)
      db.pragma(`synchronous = ${synchronous}`)
      db.exec(SCHEMA)
      return this.#prepare(db)
    } catch (error) {
      db.close()
      throw error
    }
  }

  #prepare (db: Database): Connection {
    const statements: Statements = {
      insert: db.prepare('INSERT OR IGNORE INTO collab_updates (document, seq, data) VALUES (?, ?, ?)'),
      snapshot: db.prepare<[string], [number, Buffer]>('SELECT seq, state FROM collab_snapshots WHERE document = ?').raw(),
      updates: db.prepare<[string, number], [number, Buffer]>(
        'SELECT seq, data FROM collab_updates WHERE document = ? AND seq > ? ORDER BY seq').raw(),
      upsertSnapshot: db.prepare(
        'INSERT INTO collab_snapshots (document, seq, state) VALUES (?, ?, ?) ' +
        'ON CONFLICT (document) DO UPDATE SET seq = excluded.seq, state = excluded.state'),
      deleteUpdates: db.prepare('DELETE FROM collab_updates WHERE document = ? AND seq <= ?')
    }
    const append = db.transaction((entries: readonly LogEntry[]) => {
      for (const { documentName, seq, update } of entries) statements.insert.run(documentName, seq, asBuffer(update))
    })
    const load = db.transaction((documentName: string): StoredDocument => {
      const snapshot = statements.snapshot.get(documentName)
      const snapshotSeq = snapshot?.[0] ?? 0
      const rows = statements.updates.all(documentName, snapshotSeq)
      return {
        snapshot: snapshot?.[1] ?? null,
        updates: rows.map((row) => row[1]),
        seq: rows.length > 0 ? rows[rows.length - 1][0] : snapshotSeq
      }
    })
    const compact = db.transaction((documentName: string, state: Uint8Array, upToSeq: number) => {
      statements.upsertSnapshot.run(documentName, upToSeq, asBuffer(state))
      statements.deleteUpdates.run(documentName, upToSeq)
    })
    return {
      db,
      // IMMEDIATE takes the write lock at BEGIN, so a busy database fails before any work is done.
      append: (entries) => append.immediate(entries),
      load: (documentName) => load(documentName),
      compact: (documentName, state, upToSeq) => compact.immediate(documentName, state, upToSeq)
    }
  }
}
