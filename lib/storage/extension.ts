// The generic persistence extension: turns any CollabStorage into collab
// hooks. It owns the per-document log bookkeeping (sequence numbers, log size,
// when to compact); the group commit and retry live in group-commit.ts.
//
// Why compaction is safe without ordering it against appends: a sequence
// number is assigned in onChange, after the core applied the update to the
// Y.Doc. So a state encoded from the Y.Doc holds every update whose seq was
// assigned before the encoding, and compact(state, upToSeq) never drops an
// update the snapshot lacks. An append that commits after the compaction,
// with a seq the snapshot already covers, is skipped on load.

import type { FastifyBaseLogger } from 'fastify'
import * as Y from 'yjs'
import type { CollabStorage } from './storage.js'
import { GroupCommit, type RetryOptions } from './group-commit.js'
import {
  FST_COLLAB_INVALID_OPTION,
  FST_COLLAB_STORAGE_APPEND,
  FST_COLLAB_STORAGE_COMPACT,
  FST_COLLAB_STORAGE_LOAD,
  FST_COLLAB_STORAGE_NOT_LOADED
} from '../errors.js'

/** Options of {@link storageExtension}. */
export interface StorageExtensionOptions {
  /** Hook order among the extensions, higher first (as in Hocuspocus). Default 100. */
  priority?: number
  /**
   * Compact a document once its log holds this many updates past the snapshot. Loading replays the log
   * update by update (about 170k updates/s here: bench/store.js loads a 100,000-update log in 0.6 s), so this bounds the cold-load time.
   * Default 10,000.
   */
  maxLogUpdates?: number
  /** Compact a document once its log holds this many bytes past the snapshot. Default 16 MiB (16,777,216). */
  maxLogBytes?: number
  /** Backoff of failed appends. Defaults: 50 ms doubling up to 5000 ms, no attempt limit. */
  retry?: RetryOptions
  /**
   * Where storage errors are logged. Default: the app's root logger, `fastify.collab.log`, taken from the
   * `instance` of the first hook call. Hooks called by hand without an `instance` fall back to
   * `process.emitWarning`.
   */
  log?: FastifyBaseLogger
}

/** The hook payload fields this extension reads (a subset of what the collab core passes). */
export interface StoragePayload {
  documentName: string
  document: Y.Doc
  /** `fastify.collab`, whose `log` is the default logger. */
  instance?: { readonly log: FastifyBaseLogger }
}

/** The applied update given to `onChange`, Yjs update format v1. */
export interface StorageChangePayload extends StoragePayload {
  update: Uint8Array
}

/** The collab hooks returned by {@link storageExtension}. */
export interface StorageExtension {
  /** Hook order among the extensions, higher first. */
  priority: number
  /** Applies the stored snapshot, then the log after it. @rejects FST_COLLAB_STORAGE_LOAD (`cause`: the store's error). */
  onLoadDocument (payload: StoragePayload): Promise<void>
  /** Appends the update to the log; resolves once its group commit is durable. Waits through retries; rejects with FST_COLLAB_STORAGE_LOST only at close. */
  onChange (payload: StorageChangePayload): Promise<void>
  /** Compacts the log into a snapshot. @rejects FST_COLLAB_STORAGE_COMPACT, which keeps the document loaded for the core's retry. */
  onStoreDocument (payload: StoragePayload): Promise<void>
  /** Compacts before the document unloads. @rejects FST_COLLAB_STORAGE_COMPACT, which vetoes the unload. */
  beforeUnloadDocument (payload: Pick<StoragePayload, 'documentName'>): Promise<void>
  /** Forgets the document's log bookkeeping once nothing of it is pending. */
  afterUnloadDocument (payload: Pick<StoragePayload, 'documentName'>): Promise<void>
  /** Makes a last attempt at pending appends (FST_COLLAB_STORAGE_LOST for what still fails), then closes the storage. */
  onDestroy (): Promise<void>
}

/** What the extension knows about one loaded document's log. */
interface LogState {
  document: Y.Doc
  /** Highest seq assigned; the log has no gaps, so `seq - snapshotSeq` updates are past the snapshot. */
  seq: number
  /** The seq the stored snapshot covers. */
  snapshotSeq: number
  /** Bytes of the updates past the snapshot. */
  logBytes: number
  /** A size-triggered compaction is queued or running: updates arriving meanwhile must not queue more. */
  compacting: boolean
}

// Infinity is allowed: it turns a size bound off.
function positive (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0)) throw new FST_COLLAB_INVALID_OPTION(name, 'expected a number > 0')
  return value
}

/**
 * Makes collab hooks that persist every document in `storage`: an update log written before each update
 * is acknowledged, plus a compacted snapshot.
 *
 * - `onLoadDocument` applies the snapshot and then the log to the document. Rejects with
 *   FST_COLLAB_STORAGE_LOAD (`cause`: the storage's error) when the store cannot be read.
 * - `onChange` appends the update to the log and resolves once it is durable. The updates of one
 *   event-loop turn, across all documents, share one `append` call (group commit). A failed append is
 *   logged as FST_COLLAB_STORAGE_APPEND and retried with backoff; the promise keeps waiting, so the
 *   core's acknowledgement (Hocuspocus SyncStatus) waits too.
 * - `onStoreDocument` and `beforeUnloadDocument` compact the log into the snapshot; so does the log
 *   passing `maxLogUpdates` or `maxLogBytes`. They reject with FST_COLLAB_STORAGE_COMPACT on failure,
 *   which keeps the document loaded for the core's retry.
 * - `onDestroy` makes one last attempt at pending appends and closes the storage; updates that still
 *   cannot be written are logged as FST_COLLAB_STORAGE_LOST.
 *
 * Throws FST_COLLAB_INVALID_OPTION (a TypeError) when a size bound or retry delay is not a number > 0.
 */
export function storageExtension (storage: CollabStorage, options: StorageExtensionOptions = {}): StorageExtension {
  const maxLogUpdates = positive('maxLogUpdates', options.maxLogUpdates, 10_000)
  const maxLogBytes = positive('maxLogBytes', options.maxLogBytes, 16 * 1024 * 1024)
  const retry = {
    initialDelay: positive('retry.initialDelay', options.retry?.initialDelay, 50),
    maxDelay: positive('retry.maxDelay', options.retry?.maxDelay, 5000)
  }
  let log = options.log ?? null
  const documents = new Map<string, LogState>()

  // The root logger, not a request's child: a storage error belongs to no one request.
  function useLoggerOf (instance: StoragePayload['instance']): void {
    log ??= instance?.log ?? null
  }

  function logError (err: Error, documentName?: string): void {
    // Without a logger the error would vanish; stderr is the last resort, before any hook has run.
    if (log === null) return process.emitWarning(err)
    // The store's own code (SQLITE_BUSY, ECONNREFUSED, …) is what an operator searches for.
    const { cause } = err
    const causeCode = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined
    log.error({ err, documentName, causeCode }, err.message)
  }

  const commit = new GroupCommit(storage, retry, (cause, entries, delay) => {
    logError(new FST_COLLAB_STORAGE_APPEND(entries, delay, { cause }))
  })

  function stateOf (documentName: string): LogState {
    const state = documents.get(documentName)
    if (state === undefined) throw new FST_COLLAB_STORAGE_NOT_LOADED(documentName)
    return state
  }

  function compact (documentName: string, state: LogState): Promise<void> {
    return commit.exclusive(async () => {
      const upToSeq = state.seq
      if (upToSeq === state.snapshotSeq) return
      const bytes = state.logBytes
      try {
        await storage.compact(documentName, Y.encodeStateAsUpdate(state.document), upToSeq)
      } catch (cause) {
        throw new FST_COLLAB_STORAGE_COMPACT(documentName, { cause })
      }
      state.snapshotSeq = upToSeq
      state.logBytes -= bytes
    })
  }

  return {
    priority: options.priority ?? 100,

    async onLoadDocument ({ documentName, document, instance }) {
      useLoggerOf(instance)
      try {
        const stored = await commit.exclusive(() => storage.load(documentName))
        let logBytes = 0
        document.transact(() => {
          if (stored.snapshot !== null) Y.applyUpdate(document, stored.snapshot)
          for (const update of stored.updates) {
            Y.applyUpdate(document, update)
            logBytes += update.byteLength
          }
        }, storage)
        // A document unloaded while its last appends were still retrying keeps counting from where it was.
        const seq = Math.max(stored.seq, documents.get(documentName)?.seq ?? 0)
        documents.set(documentName, { document, seq, snapshotSeq: seq - stored.updates.length, logBytes, compacting: false })
      } catch (cause) {
        throw new FST_COLLAB_STORAGE_LOAD(documentName, { cause })
      }
    },

    async onChange ({ documentName, update, instance }) {
      useLoggerOf(instance)
      const state = stateOf(documentName)
      state.seq++
      state.logBytes += update.byteLength
      await commit.append({ documentName, seq: state.seq, update })
      if (!state.compacting && (state.seq - state.snapshotSeq >= maxLogUpdates || state.logBytes >= maxLogBytes)) {
        state.compacting = true
        compact(documentName, state)
          .catch((err: Error) => logError(err, documentName))
          .finally(() => { state.compacting = false })
      }
    },

    async onStoreDocument ({ documentName, document }) {
      const state = stateOf(documentName)
      state.document = document
      await compact(documentName, state)
    },

    async beforeUnloadDocument ({ documentName }) {
      const state = documents.get(documentName)
      if (state !== undefined) await compact(documentName, state)
    },

    async afterUnloadDocument ({ documentName }) {
      // Unless the snapshot covers every seq handed out, appends may still be retrying with seqs the store
      // does not know yet: the state stays, so a reload continues after them (see onLoadDocument).
      const state = documents.get(documentName)
      if (state !== undefined && state.snapshotSeq === state.seq) documents.delete(documentName)
    },

    async onDestroy () {
      const lost = await commit.close()
      if (lost !== null) logError(lost)
    }
  }
}
