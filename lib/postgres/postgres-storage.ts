// CollabStorage on PostgreSQL through node-postgres (`pg`): an update log, a
// snapshot table and a fence table, namespaced by schema and table prefix.
// `pg` is an optional peer dependency, loaded here only when the store makes
// its own pool from a connection string.

import { createRequire } from 'node:module'
import type { CollabStorage, LogEntry, NewVersion, StoredDocument, StoredVersion, VersionInfo, VersionReason } from '../storage/storage.js'
import { conflictError, fencedError } from '../fence.js'
import { FST_COLLAB_INVALID_OPTION, FST_COLLAB_POSTGRES_ASYNC_COMMIT, FST_COLLAB_POSTGRES_MISSING, FST_COLLAB_STORAGE_CLOSED } from '../errors.js'
import { isIdentifier, sqlFor, type Sql } from './schema.js'

/** The result of a query: rows as objects, by column name. */
export interface PostgresResult {
  rows: Array<Record<string, unknown>>
}

/** A connection checked out of a pool (node-postgres `PoolClient`). */
export interface PostgresPoolClient {
  query (text: string, values?: unknown[]): Promise<PostgresResult>
  /** Returns the connection to the pool; with an error, the pool closes it instead. */
  release (error?: Error | boolean): void
}

/** What the store needs of a pool: a node-postgres `pg.Pool` fits. */
export interface PostgresPool {
  query (text: string, values?: unknown[]): Promise<PostgresResult>
  connect (): Promise<PostgresPoolClient>
  end (): Promise<void>
}

/** Options of {@link PostgresStorage}: where the database is (one of `connectionString` or `pool`) and how it is laid out. */
export interface PostgresStorageOptions {
  /**
   * A libpq connection string (`postgres://user:password@host:5432/db?sslmode=require`). The store makes
   * its own `pg.Pool` from it (which needs the `pg` package) and ends it on close.
   */
  connectionString?: string
  /**
   * An existing pool, e.g. the app's `pg.Pool`, instead of `connectionString`. The store does not end it
   * on close, applies none of the pool options below, and does not listen to its `error` event: a
   * `pg.Pool` without an `error` listener crashes the process when an idle connection breaks (a server
   * restart), so attach one.
   */
  pool?: PostgresPool
  /** The schema of the store's tables, created if missing. Letters, digits and `_`. Default `'public'`. */
  schema?: string
  /** Prefix of the table names: `<prefix>updates`, `<prefix>snapshots`, `<prefix>fences`, `<prefix>versions`. Letters, digits and `_`. Default `'collab_'`. */
  tablePrefix?: string
  /**
   * Create the schema and tables on first use (in one transaction, under an advisory lock, so several
   * instances starting at once do not collide). `false` when a deploy step runs {@link PostgresStorage.migrate}
   * or the SQL in docs/storage.md ("The tables"), and the app's role may not run DDL. Default `true`.
   */
  migrate?: boolean
  /** With `connectionString`: the most connections the pool opens. The store makes one call at a time, so one is used; the second replaces a broken one without waiting. Default 2. */
  poolSize?: number
  /**
   * With `connectionString`: `statement_timeout` of the store's sessions, in ms (a startup parameter; 0 turns
   * it off, as a pooler that refuses startup parameters needs). A statement past it fails and is retried. The
   * client also gives up on a query that has no answer `statementTimeout` + 5000 ms after it was sent (a
   * partitioned or failed-over server), closing that connection. Default 30,000.
   */
  statementTimeout?: number
  /** With `connectionString`: how long opening a connection may take, in ms, before the call fails and is retried. Default 10,000. */
  connectionTimeout?: number
}

type PgModule = { Pool: new (config: Record<string, unknown>) => PostgresPool & { on (event: 'error', listener: (error: Error) => void): unknown } }

// The client's own timer fires this long after the server's statement_timeout would have.
const CLIENT_TIMEOUT_MARGIN = 5000

function loadPg (): PgModule {
  try {
    return createRequire(import.meta.url)('pg') as PgModule
  } catch (cause) {
    throw new FST_COLLAB_POSTGRES_MISSING({ cause })
  }
}

function wholeNumber (name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) throw new FST_COLLAB_INVALID_OPTION(name, `expected a whole number >= ${min}`)
  return value
}

function makePool (connectionString: string, options: PostgresStorageOptions): PostgresPool {
  const poolSize = wholeNumber('poolSize', options.poolSize, 2, 1)
  const statementTimeout = wholeNumber('statementTimeout', options.statementTimeout, 30_000, 0)
  const connectionTimeout = wholeNumber('connectionTimeout', options.connectionTimeout, 10_000, 0)
  const { Pool } = loadPg()
  const pool = new Pool({
    connectionString,
    max: poolSize,
    connectionTimeoutMillis: connectionTimeout,
    statement_timeout: statementTimeout > 0 ? statementTimeout : undefined,
    query_timeout: statementTimeout > 0 ? statementTimeout + CLIENT_TIMEOUT_MARGIN : undefined,
    keepAlive: true,
    application_name: 'fastify-collab'
  })
  // An idle connection that breaks (server restart, failover) is dropped by the pool, which reports it
  // here; the next call opens a new one, and its failure, if the server is still away, is what the
  // extension logs and retries. Without a listener, the process would crash.
  pool.on('error', () => {})
  return pool
}

// pg returns bigint columns as strings (they may pass 2^53); seqs and epochs never do.
const toNumber = (value: unknown): number => Number(value)

function versionInfo (documentName: string, row: Record<string, unknown>): VersionInfo {
  return {
    id: toNumber(row.id),
    documentName,
    createdAt: toNumber(row.created_at),
    label: row.label as string | null,
    authors: row.authors as string[],
    reason: row.reason as VersionReason,
    size: toNumber(row.size)
  }
}

// SQLSTATE not_null_violation: how the append statement refuses an entry stored with other bytes (schema.ts).
const NOT_NULL_VIOLATION = '23502'

// pg sends Buffers as bytea; a plain Uint8Array view is wrapped without a copy.
function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * The PostgreSQL {@link CollabStorage}: tables `<prefix>updates (document, seq, data)`,
 * `<prefix>snapshots (document, seq, state)`, `<prefix>fences (document, epoch)` and, for document history,
 * `<prefix>versions (id, document, created_at, label, authors, reason, size, state)` in `schema`. Every
 * write is one statement (one round trip), committed before it resolves: an append of any number of
 * entries is one multi-row `INSERT … SELECT FROM unnest(…) ON CONFLICT …`, its fence check
 * inside it with the fence rows locked (`FOR UPDATE`); a compaction is one statement too.
 *
 * The constructor throws FST_COLLAB_INVALID_OPTION (a TypeError) for a bad option and
 * FST_COLLAB_POSTGRES_MISSING when `connectionString` is given and `pg` is not installed; it does not
 * connect. Calls reject with pg's error (`code`: the SQLSTATE, e.g. 57P01 server restart, 57014
 * statement_timeout, 53100 disk full; or a connection error such as ECONNREFUSED), which the extension
 * logs and retries; FST_COLLAB_POSTGRES_ASYNC_COMMIT when the session has `synchronous_commit = off`;
 * FST_COLLAB_STORAGE_FENCED; FST_COLLAB_STORAGE_CONFLICT; FST_COLLAB_STORAGE_CLOSED after `close()`.
 */
export class PostgresStorage implements CollabStorage {
  readonly #pool: PostgresPool
  readonly #ownPool: boolean
  readonly #sql: Sql
  readonly #schema: string
  readonly #migrate: boolean
  #prepared = false
  #preparing: Promise<void> | null = null
  #closed = false

  constructor (options: PostgresStorageOptions) {
    const { connectionString, pool, schema = 'public', tablePrefix = 'collab_', migrate = true } = options
    if ((connectionString === undefined) === (pool === undefined)) throw new FST_COLLAB_INVALID_OPTION('connectionString', 'give either connectionString or pool')
    if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString === '')) throw new FST_COLLAB_INVALID_OPTION('connectionString', 'expected a non-empty string')
    if (pool !== undefined && (typeof pool?.query !== 'function' || typeof pool.connect !== 'function')) throw new FST_COLLAB_INVALID_OPTION('pool', 'expected a pg.Pool')
    if (typeof schema !== 'string' || !isIdentifier(schema)) throw new FST_COLLAB_INVALID_OPTION('schema', 'letters, digits and _, not starting with a digit, at most 48')
    if (typeof tablePrefix !== 'string' || (tablePrefix !== '' && !isIdentifier(tablePrefix))) throw new FST_COLLAB_INVALID_OPTION('tablePrefix', 'letters, digits and _, not starting with a digit, at most 48')
    if (typeof migrate !== 'boolean') throw new FST_COLLAB_INVALID_OPTION('migrate', 'expected a boolean')
    this.#ownPool = pool === undefined
    this.#pool = pool ?? makePool(connectionString as string, options)
    this.#schema = schema
    this.#sql = sqlFor(schema, tablePrefix)
    this.#migrate = migrate
  }

  /**
   * Creates the schema (when missing) and the four tables and their index (when missing; the versions table
   * too, so a database from before history gains it here), in one transaction under an
   * advisory lock. Safe to run any number of times, from several instances at once.
   * @rejects pg's error; FST_COLLAB_STORAGE_CLOSED after close.
   */
  async migrate (): Promise<void> {
    if (this.#closed) throw new FST_COLLAB_STORAGE_CLOSED()
    const sql = this.#sql
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sql.lockKey])
      // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege first: a role without it can still use an existing schema.
      if ((await client.query(sql.schemaExists, [this.#schema])).rows.length === 0) await client.query(sql.createSchema)
      await client.query(sql.createTables)
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      // Closing the connection also ends its transaction.
      client.release(error as Error)
      throw error
    }
  }

  /** Reads the snapshot and the log after it in one statement (one snapshot of the database). @rejects see the class. */
  async load (documentName: string): Promise<StoredDocument> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.load, [documentName])
    let snapshot: Uint8Array | null = null
    let seq = 0
    const updates: Uint8Array[] = []
    for (const row of rows) {
      seq = toNumber(row.seq)
      if (row.is_snapshot === true) snapshot = row.data as Buffer
      else updates.push(row.data as Buffer)
    }
    return { snapshot, updates, seq }
  }

  /**
   * Inserts every entry in one statement, checking the fences of the entries that carry an epoch inside
   * it; an entry already stored with the same bytes is ignored (a retry).
   * @rejects FST_COLLAB_STORAGE_FENCED or FST_COLLAB_STORAGE_CONFLICT (an entry already stored with other
   *   bytes); nothing is written then. See the class.
   */
  async append (entries: readonly LogEntry[]): Promise<void> {
    await this.#prepare()
    const documents = new Array<string>(entries.length)
    const seqs = new Array<number>(entries.length)
    const updates = new Array<Buffer>(entries.length)
    const epochs = new Array<number | null>(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]
      documents[i] = entry.documentName
      seqs[i] = entry.seq
      updates[i] = asBuffer(entry.update)
      epochs[i] = entry.epoch ?? null
    }
    let rows
    try {
      ({ rows } = await this.#pool.query(this.#sql.append, [documents, seqs, updates, epochs]))
    } catch (error) {
      if ((error as { code?: unknown }).code !== NOT_NULL_VIOLATION) throw error
      // Which entries collided, read after the statement rolled back (rare: only two writers sharing a log).
      const conflicts = await this.#pool.query(this.#sql.conflicts, [documents, seqs, updates])
      if (conflicts.rows.length === 0) throw error
      throw conflictError(new Map(conflicts.rows.map((row) => [row.document as string, toNumber(row.seq)])))
    }
    if (rows.length > 0) throw fencedError(new Map(rows.map((row) => [row.document as string, toNumber(row.epoch)])))
  }

  /**
   * Replaces the snapshot and deletes the log up to `upToSeq` in one statement, after checking the fence
   * (locked) when `epoch` is given.
   * @rejects FST_COLLAB_STORAGE_FENCED (nothing changed); see the class.
   */
  async compact (documentName: string, state: Uint8Array, upToSeq: number, epoch?: number): Promise<void> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.compact, [documentName, upToSeq, asBuffer(state), epoch ?? null])
    if (rows[0].ok !== true) throw fencedError(new Map([[documentName, toNumber(rows[0].epoch)]]))
  }

  /**
   * Issues the document a new fencing epoch (1 for its first claim, then one more each time) in one
   * statement, an upsert of its fence row, which waits for an append or compaction holding that row.
   * @returns the new epoch, committed.
   * @rejects see the class.
   */
  async claim (documentName: string): Promise<number> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.claim, [documentName])
    return toNumber(rows[0].epoch)
  }

  /**
   * Stores a version in one statement, after checking the fence (locked) when `version.epoch` is given.
   * @returns its id, from the table's identity column.
   * @rejects FST_COLLAB_STORAGE_FENCED (nothing stored); see the class.
   */
  async putVersion (version: NewVersion): Promise<number> {
    await this.#prepare()
    const { documentName, epoch, createdAt, label, authors, reason, state } = version
    const { rows } = await this.#pool.query(this.#sql.putVersion, [documentName, epoch ?? null, createdAt, label, authors, reason, asBuffer(state)])
    if (rows[0].ok !== true) throw fencedError(new Map([[documentName, toNumber(rows[0].epoch)]]))
    return toNumber(rows[0].id)
  }

  /** A document's versions without their states, highest id first. @rejects see the class. */
  async listVersions (documentName: string, options: { limit: number, before?: number }): Promise<VersionInfo[]> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.listVersions, [documentName, options.limit, options.before ?? null])
    return rows.map((row) => versionInfo(documentName, row))
  }

  /** One version with its state, or null. @rejects see the class. */
  async getVersion (documentName: string, id: number): Promise<StoredVersion | null> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.getVersion, [documentName, id])
    if (rows.length === 0) return null
    return { ...versionInfo(documentName, rows[0]), state: rows[0].state as Buffer }
  }

  /**
   * Deletes versions of a document in one statement, after checking the fence (locked) when `epoch` is given.
   * @rejects FST_COLLAB_STORAGE_FENCED (nothing deleted); see the class.
   */
  async deleteVersions (documentName: string, ids: readonly number[], epoch?: number): Promise<void> {
    await this.#prepare()
    const { rows } = await this.#pool.query(this.#sql.deleteVersions, [documentName, [...ids], epoch ?? null])
    if (rows[0].ok !== true) throw fencedError(new Map([[documentName, toNumber(rows[0].epoch)]]))
  }

  /** Ends the pool the store made (not a pool it was given); later calls reject with FST_COLLAB_STORAGE_CLOSED. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownPool) await this.#pool.end()
  }

  // Before the first call: the tables, and a session that acknowledges only durable commits. Tried again by
  // the next call when it fails (the server may be down at startup). The version calls may overlap the others
  // (CollabStorage), so concurrent first calls share one preparation.
  async #prepare (): Promise<void> {
    if (this.#closed) throw new FST_COLLAB_STORAGE_CLOSED()
    if (this.#prepared) return
    this.#preparing ??= this.#prepareOnce().finally(() => { this.#preparing = null })
    await this.#preparing
  }

  async #prepareOnce (): Promise<void> {
    if (this.#migrate) await this.migrate()
    const { rows } = await this.#pool.query("SELECT current_setting('synchronous_commit') AS value")
    if (rows[0].value === 'off') throw new FST_COLLAB_POSTGRES_ASYNC_COMMIT()
    this.#prepared = true
  }
}
