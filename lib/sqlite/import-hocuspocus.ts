// Reading the SQLite file of @hocuspocus/extension-sqlite (checked against
// 4.7.0; its earlier releases, on node-sqlite3, created the same table): one
// row per document, `documents (name, data)`, data being
// Y.encodeStateAsUpdate of the document (the `state` that
// @hocuspocus/extension-database hands its `store`), replaced on every store.

import { existsSync } from 'node:fs'
import { FST_COLLAB_IMPORT_SOURCE, FST_COLLAB_INVALID_OPTION } from '../errors.js'
import { loadDriver, type SqliteConnection, type SqliteDriverName, withSqliteCode } from './driver.js'
import { SqliteStorage } from './sqlite-storage.js'
import type { CollabStorage } from '../storage/storage.js'
import { type ImportedDocument, importDocuments, type ImportOptions, type ImportResult } from '../storage/import.js'

/** Options of {@link importHocuspocus}. */
export interface ImportHocuspocusOptions extends ImportOptions {
  /** Path of the SQLite file that `@hocuspocus/extension-sqlite` wrote (its `database` option). Only read. */
  from: string
  /**
   * Where the documents go: the path of a fastify-collab SQLite file (created if missing; opened and closed
   * here), or a store of your own making (`new PostgresStorage(...)`, any CollabStorage), which is not closed.
   */
  to: string | CollabStorage
  /** The SQLite driver for both files, as `sqlite()`'s `driver` option. Default: better-sqlite3 when installed and safe, else node:sqlite. */
  driver?: SqliteDriverName
}

// One row at a time, by rowid: the whole table never sits in memory, and no read transaction stays open
// between rows (the target may be the same file).
const NEXT_ROW = 'SELECT rowid, name, data FROM documents WHERE rowid > ? ORDER BY rowid LIMIT 1'

function open (path: string, driver: SqliteDriverName | undefined): SqliteConnection {
  let db: SqliteConnection | undefined
  try {
    db = loadDriver(driver).open(path)
    const columns = new Set(db.read<[number, string]>('PRAGMA table_info(documents)').all().map((column) => column[1]))
    if (!columns.has('name') || !columns.has('data')) {
      throw new Error('no "documents" table with "name" and "data" columns, as @hocuspocus/extension-sqlite writes')
    }
    return db
  } catch (cause) {
    db?.close()
    if ((cause as { code?: unknown }).code === 'FST_COLLAB_SQLITE_MISSING') throw cause
    throw new FST_COLLAB_IMPORT_SOURCE(path, { cause: withSqliteCode(cause) })
  }
}

/** The documents of an @hocuspocus/extension-sqlite file, in the order they were first stored. */
function * rowsOf (db: SqliteConnection, path: string): Generator<ImportedDocument> {
  const next = db.read<[number, unknown, unknown]>(NEXT_ROW)
  let rowid = 0
  for (;;) {
    let row: [number, unknown, unknown] | undefined
    try {
      row = next.get(rowid)
    } catch (cause) {
      throw new FST_COLLAB_IMPORT_SOURCE(path, { cause: withSqliteCode(cause) })
    }
    if (row === undefined) return
    rowid = row[0]
    yield { name: row[1] as string, state: row[2] as Uint8Array }
  }
}

/**
 * Imports every document of the SQLite file that Hocuspocus's `@hocuspocus/extension-sqlite` wrote (table
 * `documents (name, data)`) into a fastify-collab store, each as the document's snapshot: see
 * {@link importDocuments} for what is written, what is refused and when to run it. The same as
 * `npx fastify-collab-import-hocuspocus --from hocuspocus.sqlite --to collab.sqlite`.
 *
 * ```js
 * import { importHocuspocus } from 'fastify-collab/sqlite'
 * const { imported } = await importHocuspocus({ from: './hocuspocus.sqlite', to: './data/collab.db' })
 * ```
 *
 * @returns how many documents were written and how many the target already held with the same state.
 * @rejects FST_COLLAB_IMPORT_SOURCE when `from` is missing, not a SQLite database, has no such table or cannot be read
 *   (`cause`: the driver's error); FST_COLLAB_IMPORT_EXISTS, FST_COLLAB_IMPORT_INVALID_DOCUMENT and
 *   FST_COLLAB_IMPORT_INVALID_STATE as {@link importDocuments}; FST_COLLAB_STORAGE_OPEN when the target file
 *   cannot be opened; FST_COLLAB_SQLITE_MISSING / FST_COLLAB_SQLITE_UNSUPPORTED as `sqlite()`; FST_COLLAB_INVALID_OPTION
 *   for a `from` or `to` that is neither.
 */
export async function importHocuspocus (options: ImportHocuspocusOptions): Promise<ImportResult> {
  const { from, to, driver, force } = options
  if (typeof from !== 'string' || from === '') throw new FST_COLLAB_INVALID_OPTION('from', 'the path of the Hocuspocus SQLite file is required')
  if (typeof to !== 'string' && (typeof to?.load !== 'function' || typeof to.compact !== 'function')) {
    throw new FST_COLLAB_INVALID_OPTION('to', 'a path or a CollabStorage')
  }
  // Checked before anything opens: SQLite would create an empty database for a missing path.
  if (!existsSync(from)) throw new FST_COLLAB_IMPORT_SOURCE(from, { cause: new Error('no such file') })
  // The target first: SQLite switches a file to WAL only while no other connection has it open.
  const storage = typeof to === 'string' ? new SqliteStorage({ path: to, driver }) : to
  try {
    const db = open(from, driver)
    try {
      return await importDocuments(storage, rowsOf(db, from), { force })
    } finally {
      db.close()
    }
  } finally {
    if (typeof to === 'string') await storage.close()
  }
}
