// The `fastify-collab/postgres` entry point: the networked durable store, for
// instances on several machines. node-postgres (`pg`) is an optional peer
// dependency, loaded only when the store makes its own pool.

import { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
import { PostgresStorage, type PostgresStorageOptions } from './postgres-storage.js'

export { PostgresStorage, type PostgresPool, type PostgresPoolClient, type PostgresResult, type PostgresStorageOptions } from './postgres-storage.js'
export { storageExtension, type StorageExtension, type StorageExtensionOptions } from '../storage/extension.js'
export type { CollabStorage, LogEntry, NewVersion, StoredDocument, StoredVersion, VersionInfo, VersionReason } from '../storage/storage.js'
export { createVersions, type Versions, type VersionsHandle, type VersionsOptions } from '../history/index.js'
export { conflictError, fencedError, isConflict, isFenced, type ConflictError, type FencedError } from '../fence.js'
export type { RetryOptions } from '../storage/group-commit.js'
export { importDocuments, type ImportedDocument, type ImportOptions, type ImportResult } from '../storage/import.js'

/** Options of {@link postgres}: the database and its layout, plus the extension's compaction, batching, retry and logging. */
export type PostgresOptions = PostgresStorageOptions & StorageExtensionOptions

/**
 * A collab extension that keeps every document in PostgreSQL: each applied update is appended to a log,
 * one statement per event-loop turn, committed before it is acknowledged; the log is compacted into a
 * snapshot on store, on unload and past `maxLogUpdates` / `maxLogBytes`. The store fences (`fencing` is
 * true), so it serves scale-out across machines.
 *
 * ```js
 * import { postgres } from 'fastify-collab/postgres'
 * await app.register(fastifyCollab, { extensions: [postgres({ connectionString: process.env.DATABASE_URL })] })
 * ```
 *
 * Throws FST_COLLAB_INVALID_OPTION for a bad option and FST_COLLAB_POSTGRES_MISSING when
 * `connectionString` is given and `pg` is not installed. It does not connect: the first load creates the
 * tables (unless `migrate: false`), and a server that is down shows as coded errors in the log, retried.
 * See {@link storageExtension} for what the hooks do and log.
 */
export function postgres (options: PostgresOptions): StorageExtension {
  const { connectionString, pool, schema, tablePrefix, migrate, poolSize, statementTimeout, connectionTimeout, ...extensionOptions } = options
  const storage = new PostgresStorage({ connectionString, pool, schema, tablePrefix, migrate, poolSize, statementTimeout, connectionTimeout })
  return storageExtension(storage, extensionOptions)
}

export default postgres

/**
 * Creates the store's schema and tables (docs/storage.md, "The tables", gives the SQL) and disconnects: for a deploy step,
 * with `migrate: false` in the app. Safe to run again.
 * @rejects pg's error; FST_COLLAB_INVALID_OPTION and FST_COLLAB_POSTGRES_MISSING as {@link postgres} throws them.
 */
export async function migrate (options: PostgresStorageOptions): Promise<void> {
  const storage = new PostgresStorage(options)
  try {
    await storage.migrate()
  } finally {
    await storage.close()
  }
}
