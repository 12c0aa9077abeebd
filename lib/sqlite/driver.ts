// The two SQLite drivers behind one small surface: better-sqlite3 (a native
// module, optional peer dependency) and node:sqlite (built into Node 24 and
// recent Node 22). Both are synchronous and open the same file format; this
// is the only module that loads either, and it loads them only when a store
// opens, so importing fastify-collab/sqlite costs nothing.

import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import { FST_COLLAB_SQLITE_MISSING, FST_COLLAB_SQLITE_UNSUPPORTED } from '../errors.js'

/**
 * Which SQLite driver a store runs on:
 * - `'node:sqlite'`: Node's built-in module (Node 24; Node 22 prints an ExperimentalWarning when it loads).
 *   Nothing to install.
 * - `'better-sqlite3'`: the optional peer dependency (12 on Node 20, 13 on Node 22 and later).
 */
export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite'

/**
 * A value bound to a statement parameter.
 * @internal
 */
export type SqlValue = string | number | Uint8Array | null

/**
 * A prepared statement that writes; `run` returns the number of rows changed.
 * @internal
 */
export interface WriteStatement {
  run (...params: SqlValue[]): { changes: number | bigint }
}

/**
 * A prepared statement that reads rows as arrays of column values.
 * @internal
 */
export interface ReadStatement<Row extends unknown[]> {
  get (...params: SqlValue[]): Row | undefined
  all (...params: SqlValue[]): Row[]
}

/**
 * One open database file.
 * @internal
 */
export interface SqliteConnection {
  /** Runs one or more statements without parameters. */
  exec (sql: string): void
  write (sql: string): WriteStatement
  read<Row extends unknown[]> (sql: string): ReadStatement<Row>
  /** True while a transaction is open (a failed COMMIT may leave one open). */
  readonly inTransaction: boolean
  close (): void
}

/**
 * A loaded driver: its name and how to open a file with it.
 * @internal
 */
export interface SqliteDriver {
  readonly name: SqliteDriverName
  open (path: string): SqliteConnection
}

// The part of node:sqlite this module uses (@types/node 20 has none of it).
interface NodeStatement {
  run (...params: SqlValue[]): { changes: number | bigint }
  get (...params: SqlValue[]): unknown
  all (...params: SqlValue[]): unknown[]
  setReturnArrays (enabled: boolean): void
}
interface NodeDatabase {
  exec (sql: string): void
  prepare (sql: string): NodeStatement
  readonly isTransaction: boolean
  close (): void
}
interface NodeSqlite {
  DatabaseSync: new (path: string) => NodeDatabase
  StatementSync: { prototype: object }
}

const require = createRequire(import.meta.url)

function betterSqlite3 (): SqliteDriver {
  let Database: typeof BetterSqlite3
  let version: string
  try {
    version = (require('better-sqlite3/package.json') as { version: string }).version
    // Checked before the module loads: 13 on Node 20 crashes the process as it loads.
    if (unsafeOnThisNode(version)) throw new FST_COLLAB_SQLITE_UNSUPPORTED(version, process.versions.node)
    Database = require('better-sqlite3') as typeof BetterSqlite3
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'FST_COLLAB_SQLITE_UNSUPPORTED') throw cause
    throw new FST_COLLAB_SQLITE_MISSING({ cause })
  }
  return {
    name: 'better-sqlite3',
    open (path) {
      const db = new Database(path)
      return {
        exec: (sql) => { db.exec(sql) },
        write: (sql) => db.prepare<SqlValue[]>(sql),
        read: <Row extends unknown[]>(sql: string) => db.prepare<SqlValue[], Row>(sql).raw(true),
        get inTransaction () { return db.inTransaction },
        close: () => { db.close() }
      }
    }
  }
}

function nodeSqlite (): SqliteDriver {
  let sqlite: NodeSqlite
  try {
    sqlite = require('node:sqlite') as NodeSqlite
  } catch (cause) {
    throw new FST_COLLAB_SQLITE_MISSING({ cause })
  }
  // Early Node 22 builds lack the array rows the store reads; better to say so than to misread rows.
  if (!('setReturnArrays' in sqlite.StatementSync.prototype)) {
    throw new FST_COLLAB_SQLITE_MISSING({ cause: new Error(`node:sqlite of Node ${process.versions.node} has no StatementSync#setReturnArrays`) })
  }
  return {
    name: 'node:sqlite',
    open (path) {
      const db = new sqlite.DatabaseSync(path)
      return {
        exec: (sql) => { db.exec(sql) },
        write: (sql) => db.prepare(sql),
        read: <Row extends unknown[]>(sql: string) => {
          const statement = db.prepare(sql)
          statement.setReturnArrays(true)
          return statement as unknown as ReadStatement<Row>
        },
        get inTransaction () { return db.isTransaction },
        close: () => { db.close() }
      }
    }
  }
}

// Node 24.19 made node::ObjectWrap's destructor require an Environment;
// better-sqlite3 12 and older still use it, and abort the process from a GC.
function unsafeOnThisNode (driverVersion: string): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number)
  const driverMajor = Number(driverVersion.split('.')[0])
  // 12 on Node 24.19+: a garbage-collected statement aborts the process (node::ObjectWrap).
  // 13 on Node 20: its Node-API build crashes the process as it loads.
  return (driverMajor < 13 && (major > 24 || (major === 24 && minor >= 19))) || (driverMajor >= 13 && major < 22)
}

/**
 * Loads the named driver, or with `undefined` the first that works of better-sqlite3 (when installed and
 * safe on this Node) and node:sqlite.
 * @throws FST_COLLAB_SQLITE_MISSING when none can be loaded (`cause`: the last loader's error);
 *   FST_COLLAB_SQLITE_UNSUPPORTED when better-sqlite3 12 was named on Node 24.19 or later.
 * @internal
 */
export function loadDriver (name: SqliteDriverName | undefined): SqliteDriver {
  if (name === 'better-sqlite3') return betterSqlite3()
  if (name === 'node:sqlite') return nodeSqlite()
  try {
    return betterSqlite3()
  } catch (betterSqlite3Error) {
    try {
      return nodeSqlite()
    } catch (nodeSqliteError) {
      const causes = [betterSqlite3Error, nodeSqliteError].map((error) => (error as Error).cause ?? error)
      throw new FST_COLLAB_SQLITE_MISSING({ cause: new AggregateError(causes, 'neither better-sqlite3 nor node:sqlite could be loaded') })
    }
  }
}

// SQLite's primary result codes (https://www.sqlite.org/rescode.html), for node:sqlite's numeric errcode.
const RESULT_CODES = [
  'OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR',
  'CORRUPT', 'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH',
  'MISUSE', 'NOLFS', 'AUTH', 'FORMAT', 'RANGE', 'NOTADB', 'NOTICE', 'WARNING'
]

/**
 * Gives a driver's error the SQLite result code name as `code` (SQLITE_BUSY, SQLITE_READONLY, …), which
 * better-sqlite3 already sets (with the extended name, e.g. SQLITE_IOERR_WRITE) and node:sqlite does not
 * (its `code` is ERR_SQLITE_ERROR, the result code is the number `errcode`; the primary name is used).
 * Returns the same error.
 * @internal
 */
export function withSqliteCode (error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error
  const { code, errcode } = error as { code?: unknown, errcode?: unknown }
  if (code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number') {
    const name = RESULT_CODES[errcode & 0xff]
    if (name !== undefined) (error as { code: string }).code = `SQLITE_${name}`
  }
  return error
}

/**
 * The SQLite result code name of an error that went through {@link withSqliteCode}, or ''.
 * @internal
 */
export function sqliteCode (error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : ''
}
