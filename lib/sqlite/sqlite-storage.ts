// CollabStorage on one SQLite file: an update log, a snapshot table and a
// fence table, through either synchronous driver (driver.ts). Several
// processes may share the file: every write takes SQLite's write lock at
// BEGIN (IMMEDIATE), so a claim and the fence checks of append and compact
// are serialised across processes.

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CollabStorage, LogEntry, NewVersion, StoredDocument, StoredVersion, VersionInfo, VersionReason } from '../storage/storage.js'
import { conflictError, fencedError } from '../fence.js'
import { FST_COLLAB_INVALID_OPTION, FST_COLLAB_STORAGE_CLOSED, FST_COLLAB_STORAGE_OPEN } from '../errors.js'
import {
  loadDriver, sqliteCode, withSqliteCode,
  type ReadStatement, type SqliteConnection, type SqliteDriver, type SqliteDriverName, type WriteStatement
} from './driver.js'

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
   * How long a write waits for another connection's lock, in ms, before failing with SQLITE_BUSY
   * (`PRAGMA busy_timeout`). Both drivers wait synchronously, blocking the event loop, so the default is
   * 0: a busy database fails at once and the extension retries the append or compaction with backoff
   * (50 ms first), without blocking; a claim is retried by the store for up to about 250 ms. With several
   * processes writing one file, a few ms (5–20) trade a short block for fewer 50 ms retries.
   */
  busyTimeout?: number
  /**
   * The SQLite driver. Default: better-sqlite3 when it is installed and safe on this Node, otherwise
   * `node:sqlite` (Node 24, recent Node 22). Both read and write the same file format.
   */
  driver?: SqliteDriverName
}

interface Statements {
  begin: WriteStatement
  beginImmediate: WriteStatement
  commit: WriteStatement
  rollback: WriteStatement
  insert: WriteStatement
  stored: ReadStatement<[Uint8Array]>
  snapshot: ReadStatement<[number, Uint8Array]>
  updates: ReadStatement<[number, Uint8Array]>
  upsertSnapshot: WriteStatement
  deleteUpdates: WriteStatement
  fence: ReadStatement<[number]>
  claim: ReadStatement<[number]>
  insertVersion: ReadStatement<[number]>
  listVersions: ReadStatement<VersionRow>
  listVersionsBefore: ReadStatement<VersionRow>
  getVersion: ReadStatement<[...VersionRow, Uint8Array]>
  deleteVersion: WriteStatement
}

// id, created_at, label, authors (JSON), reason, size
type VersionRow = [number, number, string | null, string, string, number]

interface Connection {
  db: SqliteConnection
  append: (entries: readonly LogEntry[]) => void
  load: (documentName: string) => StoredDocument
  compact: (documentName: string, state: Uint8Array, upToSeq: number, epoch: number | undefined) => void
  claim: (documentName: string) => number
  putVersion: (version: NewVersion) => number
  listVersions: (documentName: string, limit: number, before: number | undefined) => VersionInfo[]
  getVersion: (documentName: string, id: number) => StoredVersion | null
  deleteVersions: (documentName: string, ids: readonly number[], epoch: number | undefined) => void
}

// Primary keys keep each document's log in seq order on disk, so a load is one range scan. The fence
// table holds the last epoch issued to a claim of each document (only documents served with scale-out).
// Versions (document history) have ids from AUTOINCREMENT, never reused, so they order a document's
// versions and page them; the index on (document, id) serves both. Created on open with the rest, so a file
// from before history gains the table on its next open.
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
);
CREATE TABLE IF NOT EXISTS collab_fences (
  document TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  document TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  label TEXT,
  authors TEXT NOT NULL,
  reason TEXT NOT NULL,
  size INTEGER NOT NULL,
  state BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_versions_document ON collab_versions (document, id);`

// A claim meets another process's write lock only for that transaction's length: retried this many times,
// 5 ms longer each time (about 250 ms in all), before the load fails.
const CLAIM_ATTEMPTS = 10
const CLAIM_DELAY = 5

// better-sqlite3 binds Buffers, not plain Uint8Arrays; this view shares the memory. node:sqlite takes both.
function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

// A connection that opened read-only (the file was not writable at the time) stays read-only, and one
// that could not open stays unusable: after these errors the next call reopens the file.
function needsReopen (error: unknown): boolean {
  const code = sqliteCode(error)
  return code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')
}

// Another connection holds the lock for now (another process, a backup, a rolling restart): worth another try.
function isTransient (error: unknown): boolean {
  const code = sqliteCode(error)
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')
}

/**
 * The SQLite {@link CollabStorage}: tables `collab_updates (document, seq, data)`,
 * `collab_snapshots (document, seq, state)`, `collab_fences (document, epoch)` and, for document history,
 * `collab_versions (id, document, created_at, label, authors, reason, size, state)` in one file, in WAL
 * mode. Every call but `claim` is synchronous.
 *
 * The constructor opens the file and throws FST_COLLAB_STORAGE_OPEN when it cannot (bad path, not a
 * database, schema creation refused), FST_COLLAB_SQLITE_MISSING when no driver can be loaded,
 * FST_COLLAB_SQLITE_UNSUPPORTED for better-sqlite3 12 named on Node 24.19+, and FST_COLLAB_INVALID_OPTION
 * (a TypeError) for a bad option. A file that is only locked for now (SQLITE_BUSY, SQLITE_LOCKED) is
 * opened on first use instead, where failures are logged and retried. Later calls throw the driver's
 * error with `code` the SQLite result code (SQLITE_BUSY, SQLITE_READONLY, SQLITE_IOERR…, SQLITE_FULL),
 * which the extension logs and retries, or FST_COLLAB_STORAGE_FENCED; after `close()` they throw
 * FST_COLLAB_STORAGE_CLOSED.
 */
export class SqliteStorage implements CollabStorage {
  readonly #driver: SqliteDriver
  readonly #options: Required<Omit<SqliteStorageOptions, 'driver'>>
  #connection: Connection | null
  #closed = false

  constructor (options: SqliteStorageOptions) {
    const { path, synchronous = 'NORMAL', busyTimeout = 0, driver } = options
    if (typeof path !== 'string' || path === '') throw new FST_COLLAB_INVALID_OPTION('path', 'a file path is required')
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new FST_COLLAB_INVALID_OPTION('synchronous', 'use "NORMAL" or "FULL"')
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) throw new FST_COLLAB_INVALID_OPTION('busyTimeout', 'use a whole number of ms >= 0')
    if (driver !== undefined && driver !== 'better-sqlite3' && driver !== 'node:sqlite') throw new FST_COLLAB_INVALID_OPTION('driver', 'use "better-sqlite3" or "node:sqlite"')
    this.#driver = loadDriver(driver)
    this.#options = { path, synchronous, busyTimeout }
    try {
      mkdirSync(dirname(options.path), { recursive: true })
      this.#connection = this.#open()
    } catch (cause) {
      if (!isTransient(cause)) throw new FST_COLLAB_STORAGE_OPEN(options.path, { cause })
      this.#connection = null
    }
  }

  /** The driver this store runs on. */
  get driver (): SqliteDriverName {
    return this.#driver.name
  }

  /** Reads the snapshot and the log after it, in one read transaction. @throws the driver's error, FST_COLLAB_STORAGE_CLOSED. */
  load (documentName: string): StoredDocument {
    return this.#use((connection) => connection.load(documentName))
  }

  /**
   * Checks the fences of the entries that carry an epoch, then inserts every entry, in one transaction; an
   * entry already stored with the same bytes is ignored (a retry).
   * @throws FST_COLLAB_STORAGE_FENCED or FST_COLLAB_STORAGE_CONFLICT (an entry already stored with other
   *   bytes); nothing is written then. The driver's error, FST_COLLAB_STORAGE_CLOSED.
   */
  append (entries: readonly LogEntry[]): void {
    this.#use((connection) => connection.append(entries))
  }

  /**
   * Replaces the snapshot with `state` (Yjs update v1) and deletes the log up to `upToSeq`, in one
   * transaction, after checking the fence when `epoch` is given.
   * @throws FST_COLLAB_STORAGE_FENCED (nothing changed), the driver's error, FST_COLLAB_STORAGE_CLOSED.
   */
  compact (documentName: string, state: Uint8Array, upToSeq: number, epoch?: number): void {
    this.#use((connection) => connection.compact(documentName, state, upToSeq, epoch))
  }

  /**
   * Issues the document a new fencing epoch (1 for its first claim, then one more each time), recorded in
   * one IMMEDIATE transaction, so claims of several processes on one file are serialised with each other
   * and with the fence checks of `append` and `compact`. SQLITE_BUSY is retried here, without blocking, for
   * about 250 ms.
   * @returns the new epoch.
   * @rejects the driver's error; FST_COLLAB_STORAGE_CLOSED.
   */
  async claim (documentName: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return this.#use((connection) => connection.claim(documentName))
      } catch (error) {
        if (!isTransient(error) || attempt === CLAIM_ATTEMPTS) throw error
        await sleep(CLAIM_DELAY * attempt)
      }
    }
  }

  /**
   * Stores a version in one IMMEDIATE transaction, after checking the fence when `version.epoch` is given.
   * @returns its id (SQLite's AUTOINCREMENT rowid: never reused, always higher than the ones before).
   * @throws FST_COLLAB_STORAGE_FENCED (nothing stored), the driver's error, FST_COLLAB_STORAGE_CLOSED.
   */
  putVersion (version: NewVersion): number {
    return this.#use((connection) => connection.putVersion(version))
  }

  /** A document's versions without their states, highest id first. @throws the driver's error, FST_COLLAB_STORAGE_CLOSED. */
  listVersions (documentName: string, options: { limit: number, before?: number }): VersionInfo[] {
    return this.#use((connection) => connection.listVersions(documentName, options.limit, options.before))
  }

  /** One version with its state, or null. @throws the driver's error, FST_COLLAB_STORAGE_CLOSED. */
  getVersion (documentName: string, id: number): StoredVersion | null {
    return this.#use((connection) => connection.getVersion(documentName, id))
  }

  /**
   * Deletes versions of a document in one IMMEDIATE transaction, after checking the fence when `epoch` is given.
   * @throws FST_COLLAB_STORAGE_FENCED (nothing deleted), the driver's error, FST_COLLAB_STORAGE_CLOSED.
   */
  deleteVersions (documentName: string, ids: readonly number[], epoch?: number): void {
    this.#use((connection) => connection.deleteVersions(documentName, ids, epoch))
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
      withSqliteCode(error)
      // A connection left inside a transaction (its ROLLBACK failed too) would refuse every BEGIN.
      if (needsReopen(error) || this.#connection?.db.inTransaction === true) this.#disconnect()
      throw error
    }
  }

  #open (): Connection {
    const { path, synchronous, busyTimeout } = this.#options
    let db: SqliteConnection
    try {
      db = this.#driver.open(path)
    } catch (error) {
      throw withSqliteCode(error)
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${busyTimeout}`)
      const mode = db.read<[string]>('PRAGMA journal_mode = WAL').get()?.[0]
      if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}", WAL is not available for this file`)
      db.exec(`PRAGMA synchronous = ${synchronous}`)
      db.exec(SCHEMA)
      return prepare(db)
    } catch (error) {
      db.close()
      throw withSqliteCode(error)
    }
  }
}

function prepare (db: SqliteConnection): Connection {
  const statements: Statements = {
    begin: db.write('BEGIN'),
    // IMMEDIATE takes the write lock at BEGIN, so a busy database fails before any work is done, and a
    // fence read inside the transaction cannot change before it commits.
    beginImmediate: db.write('BEGIN IMMEDIATE'),
    commit: db.write('COMMIT'),
    rollback: db.write('ROLLBACK'),
    // Only a (document, seq) that is already stored is skipped, and append() then compares its bytes.
    insert: db.write('INSERT INTO collab_updates (document, seq, data) VALUES (?, ?, ?) ON CONFLICT (document, seq) DO NOTHING'),
    stored: db.read('SELECT data FROM collab_updates WHERE document = ? AND seq = ?'),
    snapshot: db.read('SELECT seq, state FROM collab_snapshots WHERE document = ?'),
    updates: db.read('SELECT seq, data FROM collab_updates WHERE document = ? AND seq > ? ORDER BY seq'),
    upsertSnapshot: db.write(
      'INSERT INTO collab_snapshots (document, seq, state) VALUES (?, ?, ?) ' +
      'ON CONFLICT (document) DO UPDATE SET seq = excluded.seq, state = excluded.state'),
    deleteUpdates: db.write('DELETE FROM collab_updates WHERE document = ? AND seq <= ?'),
    fence: db.read('SELECT epoch FROM collab_fences WHERE document = ?'),
    claim: db.read(
      'INSERT INTO collab_fences (document, epoch) VALUES (?, 1) ON CONFLICT (document) DO UPDATE SET epoch = epoch + 1 RETURNING epoch'),
    insertVersion: db.read(
      'INSERT INTO collab_versions (document, created_at, label, authors, reason, size, state) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id'),
    listVersions: db.read(
      'SELECT id, created_at, label, authors, reason, size FROM collab_versions WHERE document = ? ORDER BY id DESC LIMIT ?'),
    listVersionsBefore: db.read(
      'SELECT id, created_at, label, authors, reason, size FROM collab_versions WHERE document = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    getVersion: db.read(
      'SELECT id, created_at, label, authors, reason, size, state FROM collab_versions WHERE document = ? AND id = ?'),
    deleteVersion: db.write('DELETE FROM collab_versions WHERE document = ? AND id = ?')
  }

  function transaction<T> (begin: WriteStatement, fn: () => T): T {
    begin.run()
    try {
      const result = fn()
      statements.commit.run()
      return result
    } catch (error) {
      // A failed COMMIT (SQLITE_BUSY, SQLITE_FULL) can leave the transaction open.
      if (db.inTransaction) statements.rollback.run()
      throw error
    }
  }

  const recordedEpoch = (documentName: string): number | undefined => statements.fence.get(documentName)?.[0]

  // The documents whose recorded fence is above the epoch one of their entries carries, with that fence.
  function staleFences (entries: readonly LogEntry[]): Map<string, number> | null {
    let recorded: Map<string, number | undefined> | null = null
    let stale: Map<string, number> | null = null
    for (const { documentName, epoch } of entries) {
      if (epoch === undefined) continue
      recorded ??= new Map()
      if (!recorded.has(documentName)) recorded.set(documentName, recordedEpoch(documentName))
      const fence = recorded.get(documentName)
      if (fence !== undefined && fence > epoch) (stale ??= new Map()).set(documentName, fence)
    }
    return stale
  }

  function checkFence (documentName: string, epoch: number | undefined): void {
    if (epoch === undefined) return
    const fence = recordedEpoch(documentName)
    if (fence !== undefined && fence > epoch) throw fencedError(new Map([[documentName, fence]]))
  }

  const versionInfo = (documentName: string, row: VersionRow): VersionInfo => ({
    id: Number(row[0]),
    documentName,
    createdAt: Number(row[1]),
    label: row[2],
    authors: JSON.parse(row[3]) as string[],
    reason: row[4] as VersionReason,
    size: Number(row[5])
  })

  return {
    db,
    append: (entries) => transaction(statements.beginImmediate, () => {
      const stale = staleFences(entries)
      if (stale !== null) throw fencedError(stale)
      let conflicts: Map<string, number> | null = null
      for (const { documentName, seq, update } of entries) {
        const bytes = asBuffer(update)
        if (Number(statements.insert.run(documentName, seq, bytes).changes) > 0) continue
        const stored = statements.stored.get(documentName, seq)?.[0]
        if (stored !== undefined && !bytes.equals(stored)) {
          conflicts ??= new Map()
          conflicts.set(documentName, Math.min(conflicts.get(documentName) ?? seq, seq))
        }
      }
      // Thrown inside the transaction: it rolls back, so nothing of the batch is written.
      if (conflicts !== null) throw conflictError(conflicts)
    }),
    load: (documentName) => transaction(statements.begin, (): StoredDocument => {
      const snapshot = statements.snapshot.get(documentName)
      const snapshotSeq = snapshot?.[0] ?? 0
      const rows = statements.updates.all(documentName, snapshotSeq)
      return {
        snapshot: snapshot?.[1] ?? null,
        updates: rows.map((row) => row[1]),
        seq: rows.length > 0 ? rows[rows.length - 1][0] : snapshotSeq
      }
    }),
    compact: (documentName, state, upToSeq, epoch) => transaction(statements.beginImmediate, () => {
      checkFence(documentName, epoch)
      statements.upsertSnapshot.run(documentName, upToSeq, asBuffer(state))
      statements.deleteUpdates.run(documentName, upToSeq)
    }),
    claim: (documentName) => transaction(statements.beginImmediate, () => {
      const row = statements.claim.get(documentName)
      if (row === undefined) throw new Error('INSERT … RETURNING gave no row')
      return Number(row[0])
    }),
    putVersion: ({ documentName, createdAt, label, authors, reason, state, epoch }) => transaction(statements.beginImmediate, () => {
      checkFence(documentName, epoch)
      const row = statements.insertVersion.get(documentName, createdAt, label, JSON.stringify(authors), reason, state.byteLength, asBuffer(state))
      if (row === undefined) throw new Error('INSERT … RETURNING gave no row')
      return Number(row[0])
    }),
    listVersions: (documentName, limit, before) => {
      const rows = before === undefined ? statements.listVersions.all(documentName, limit) : statements.listVersionsBefore.all(documentName, before, limit)
      return rows.map((row) => versionInfo(documentName, row))
    },
    getVersion: (documentName, id) => {
      const row = statements.getVersion.get(documentName, id)
      if (row === undefined) return null
      return { ...versionInfo(documentName, row as unknown as VersionRow), state: row[6] }
    },
    deleteVersions: (documentName, ids, epoch) => transaction(statements.beginImmediate, () => {
      checkFence(documentName, epoch)
      for (const id of ids) statements.deleteVersion.run(documentName, id)
    })
  }
}
