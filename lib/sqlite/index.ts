// The `fastify-collab/sqlite` entry point: the embedded durable store, on
// node:sqlite or better-sqlite3 (an optional peer dependency), whichever the
// runtime has; neither loads before a store opens.

import { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
import { SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js'

export { SqliteStorage, type SqliteStorageOptions, type Synchronous } from './sqlite-storage.js'
export type { SqliteDriverName } from './driver.js'
export { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
export type { CollabStorage, LogEntry, NewVersion, StoredDocument, StoredVersion, VersionInfo, VersionReason } from '../storage/storage.js'
export { createVersions, type Versions, type VersionsHandle, type VersionsOptions } from '../history/index.js'
export { conflictError, fencedError, isConflict, isFenced, type ConflictError, type FencedError } from '../fence.js'
export type { RetryOptions } from '../storage/group-commit.js'
export { importDocuments, type ImportedDocument, type ImportOptions, type ImportResult } from '../storage/import.js'
export { importHocuspocus, type ImportHocuspocusOptions } from './import-hocuspocus.js'

/** Options of {@link sqlite}: the file, its driver and durability, plus the extension's compaction, batching, retry and logging. */
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
 * Throws FST_COLLAB_STORAGE_OPEN when the file cannot be opened, FST_COLLAB_SQLITE_MISSING when neither
 * node:sqlite nor better-sqlite3 can be loaded (or the one named by `driver`), FST_COLLAB_SQLITE_UNSUPPORTED
 * for better-sqlite3 12 named on Node 24.19+. See {@link storageExtension} for what the hooks do and log.
 * The store fences (`fencing` is true), so it serves scale-out; several processes may share the file.
 */
export function sqlite (options: SqliteOptions): StorageExtension {
  const { path, synchronous, busyTimeout, driver, ...extensionOptions } = options
  return storageExtension(new SqliteStorage({ path, synchronous, busyTimeout, driver }), extensionOptions)
}

export default sqlite
