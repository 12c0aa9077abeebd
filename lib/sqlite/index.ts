// The `fastify-collab/sqlite` entry point: the embedded durable store. It is
// the only module that loads better-sqlite3, an optional peer dependency.

import { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
import { SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js'

export { SqliteStorage, type SqliteStorageOptions, type Synchronous } from './sqlite-storage.js'
export { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
export type { CollabStorage, LogEntry, StoredDocument } from '../storage/storage.js'
export type { RetryOptions } from '../storage/group-commit.js'

/** Options of {@link sqlite}: the file and its durability, plus the extension's compaction, retry and logging. */
export type SqliteOptions = SqliteStorageOptions & StorageExtensionOptions

/**
 * A collab extension that keeps every document in one SQLite file (WAL mode): each applied update is
 * appended to a log, one transaction per event-loop turn, before it is acknowledged; the log is
 * compacted into a snapshot on store, on unload and past `maxLogUpdates` / `maxLogBytes`.
 *
 * ```js
 * import { sqlite } from 'fastify-collab/sqlite'
 * await app.register(fastifyCollab, { extensions: [sqlite({ path: './data/collab.db' })] })
 * ```
 *
 * Throws FST_COLLAB_STORAGE_OPEN when the file cannot be opened, FST_COLLAB_SQLITE_MISSING when
 * better-sqlite3 is not installed. See {@link storageExtension} for what the hooks do and log.
 */
export function sqlite (options: SqliteOptions): StorageExtension {
  const { path, synchronous, busyTimeout, ...extensionOptions } = options
  return storageExtension(new SqliteStorage({ path, synchronous, busyTimeout }), extensionOptions)
}

export default sqlite
