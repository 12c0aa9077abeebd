// The generic persistence extension: turns any CollabStorage into collab
// hooks. It owns the per-load log bookkeeping (sequence numbers, log size,
// when to compact); the group commit and retry live in group-commit.ts.
//
// Per load: what the extension knows of a document belongs to one load (one
// Y.Doc), and every hook names the load it means by its `document`. A hook of
// an earlier load that runs late (another extension's afterUnloadDocument
// awaited a webhook, and the document was loaded again meanwhile) finds
// another Y.Doc and touches nothing.
//
// Fencing: with scale-out, the core asks claim() for a document before it
// loads it; the store issues a new epoch, higher than any earlier claim's,
// and every append and compaction of that load carries it, so the store
// refuses the writes of an owner that a newer claim superseded. A refused
// load (fenced, or its log collided with another writer's) never writes or
// acknowledges again: the core steps the document down.
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
import { type InstanceIdentity, storeRetryChannel, type StoreRetryEvent } from '../diagnostics.js'
import { tracedStorage } from './traced.js'
import { refusedWrite, type RefusedWriteError } from '../fence.js'
import { GroupCommit, type RetryOptions } from './group-commit.js'
import {
  FST_COLLAB_INVALID_OPTION,
  FST_COLLAB_STORAGE_APPEND,
  FST_COLLAB_STORAGE_CLAIM,
  FST_COLLAB_STORAGE_COMPACT,
  FST_COLLAB_STORAGE_EPOCH,
  FST_COLLAB_STORAGE_LOAD,
  FST_COLLAB_STORAGE_NOT_LOADED,
  FST_COLLAB_STORAGE_UNFENCED
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
  /**
   * The most updates one append (one transaction) carries. A turn with more, or the backlog a store outage
   * left in memory, is written in several appends, oldest first, one per event-loop turn, so that catching
   * up never holds the event loop for long (the SQLite drivers are synchronous: bench/store.js measures
   * about 4 µs per update). Default 1,000.
   */
  maxBatchUpdates?: number
  /** The most bytes of updates one append carries (an update larger than this goes alone). Default 1 MiB (1,048,576). */
  maxBatchBytes?: number
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
  /**
   * `onLoadDocument` only: the fencing epoch that {@link StorageExtension.claim} issued for this load, passed
   * by scale-out; `undefined` with one instance, and then no fence is checked.
   */
  epoch?: number
}

/** The applied update given to `onChange`, Yjs update format v1. */
export interface StorageChangePayload extends StoragePayload {
  update: Uint8Array
}

/** The collab hooks returned by {@link storageExtension}. */
export interface StorageExtension {
  /** Hook order among the extensions, higher first. */
  priority: number
  /** True when the storage implements `claim`, so that it can issue fencing epochs. Scale-out refuses to start without it. */
  readonly fencing: boolean
  /** The store this extension writes documents to (the history keeps its versions there by default). */
  readonly storage: CollabStorage
  /**
   * Claims a document for this instance before it loads it (scale-out): the store issues a new fencing
   * epoch, higher than every earlier claim's (see `CollabStorage.claim`). Pass it to `onLoadDocument` as
   * `epoch`.
   * @returns the epoch, a whole number >= 1.
   * @rejects FST_COLLAB_STORAGE_UNFENCED when the storage has no `claim`; FST_COLLAB_STORAGE_LOAD (`cause`:
   *   the store's error, or FST_COLLAB_STORAGE_CLAIM when it returned no valid new epoch).
   */
  claim (documentName: string): Promise<number>
  /**
   * Applies the stored snapshot and the log after it; this load's writes carry `payload.epoch`.
   * @rejects FST_COLLAB_STORAGE_LOAD (`cause`: the store's error); FST_COLLAB_STORAGE_UNFENCED when given an
   *   epoch and the storage has no `claim`; FST_COLLAB_STORAGE_EPOCH when the epoch is not a whole number >= 1.
   */
  onLoadDocument (payload: StoragePayload): Promise<void>
  /**
   * Appends the update to the log; resolves once its group commit is durable. Waits through retries;
   * rejects with FST_COLLAB_STORAGE_FENCED when a newer epoch claimed the document, or
   * FST_COLLAB_STORAGE_CONFLICT when another writer used the same sequence numbers (then at once for every
   * later change of that load); with FST_COLLAB_STORAGE_LOST only at close; with FST_COLLAB_STORAGE_NOT_LOADED
   * when `document` is not the one this extension loaded under that name.
   */
  onChange (payload: StorageChangePayload): Promise<void>
  /**
   * Stores what the load hooks after this extension added to the document (a template for a new document,
   * an import), as one append of this load, before any client is served: edits built on it must never be
   * stored without it. Nothing is written when the document holds only what the store held.
   * @rejects FST_COLLAB_STORAGE_LOAD (`cause`: the store's error, FST_COLLAB_STORAGE_FENCED or
   *   FST_COLLAB_STORAGE_CONFLICT), which fails the load.
   */
  afterLoadDocument (payload: Pick<StoragePayload, 'documentName' | 'document'>): Promise<void>
  /** Compacts the log into a snapshot. @rejects FST_COLLAB_STORAGE_COMPACT (`cause` FST_COLLAB_STORAGE_FENCED once fenced), which keeps the document loaded for the core's retry. */
  onStoreDocument (payload: StoragePayload): Promise<void>
  /** Compacts before the document unloads (not once refused: nothing it writes could land). @rejects FST_COLLAB_STORAGE_COMPACT, which vetoes the unload. */
  beforeUnloadDocument (payload: Pick<StoragePayload, 'documentName' | 'document'>): Promise<void>
  /** Forgets the load's log bookkeeping, when `document` is still the loaded one (a later load's is left alone). */
  afterUnloadDocument (payload: Pick<StoragePayload, 'documentName' | 'document'>): Promise<void>
  /** Makes a last attempt at pending appends (FST_COLLAB_STORAGE_LOST for what still fails), then closes the storage. */
  onDestroy (): Promise<void>
}

/** What the extension knows about one load of a document's log. */
interface LogState {
  /** The load: hooks of another Y.Doc under the same name belong to another load. */
  readonly document: Y.Doc
  /** Highest seq assigned; the log has no gaps, so `seq - snapshotSeq` updates are past the snapshot. */
  seq: number
  /** The seq the stored snapshot covers. */
  snapshotSeq: number
  /** Bytes of the updates past the snapshot. */
  logBytes: number
  /** A size-triggered compaction is queued or running: updates arriving meanwhile must not queue more. */
  compacting: boolean
  /** The epoch this load claimed, carried by every write; `undefined` without scale-out. */
  readonly epoch: number | undefined
  /** Set once the store refused a write of this load (fenced, or a conflict): nothing more is written or acknowledged. */
  refused: RefusedWriteError | null
  /** Until afterLoadDocument: the highest clock per client of what the store held, to tell what the load hooks added. */
  stored: Map<number, number> | null
}

// The highest clock of each client in stored updates: the state vector of what the store held, read off
// the updates without building a document from them.
function clocksOf (updates: readonly Uint8Array[]): Map<number, number> {
  const clocks = new Map<number, number>()
  for (const update of updates) {
    for (const [client, clock] of Y.parseUpdateMeta(update).to) clocks.set(client, Math.max(clocks.get(client) ?? 0, clock))
  }
  return clocks
}

// Whether `document` holds structs the store did not (a load hook added them: a template, an import).
function addsToStored (document: Y.Doc, stored: Map<number, number>): boolean {
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(document))) {
    if (clock > (stored.get(client) ?? 0)) return true
  }
  return false
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
 * - `claim` (scale-out, before a load) asks the store for a new fencing epoch; `onLoadDocument` applies the
 *   snapshot and then the log to the document, and the load's writes carry the epoch. Rejects with
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
 * - A backlog is written in appends of at most `maxBatchUpdates` updates and `maxBatchBytes` bytes, one
 *   per event-loop turn.
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
  const limits = {
    maxUpdates: positive('maxBatchUpdates', options.maxBatchUpdates, 1000),
    maxBytes: positive('maxBatchBytes', options.maxBatchBytes, 1024 * 1024)
  }
  const fencing = typeof storage.claim === 'function'
  let log = options.log ?? null
  // `fastify.collab`, from the first hook call: the diagnostics events carry it.
  let owner: InstanceIdentity | undefined
  // Every call to the store goes through this view of it.
  const traced = tracedStorage(storage, () => owner)
  const documents = new Map<string, LogState>()

  // The root logger, not a request's child: a storage error belongs to no one request.
  function useLoggerOf (instance: StoragePayload['instance']): void {
    log ??= instance?.log ?? null
    owner ??= instance as InstanceIdentity | undefined
  }

  function logError (err: Error, documentName?: string): void {
    // Without a logger the error would vanish; stderr is the last resort, before any hook has run.
    if (log === null) return process.emitWarning(err)
    // The store's own code (SQLITE_BUSY, ECONNREFUSED, …) is what an operator searches for.
    const { cause } = err
    const causeCode = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined
    log.error({ err, documentName, causeCode }, err.message)
  }

  const commit = new GroupCommit(traced, retry, limits, (cause, entries, delay) => {
    logError(new FST_COLLAB_STORAGE_APPEND(entries, delay, { cause }))
    if (storeRetryChannel.hasSubscribers) storeRetryChannel.publish({ instance: owner, updates: entries, delayMs: delay, error: cause } satisfies StoreRetryEvent)
  })

  // This load's state: a hook of an earlier (or later) load of the same name finds another Y.Doc.
  function stateOf (documentName: string, document: Y.Doc): LogState {
    const state = documents.get(documentName)
    if (state === undefined || state.document !== document) throw new FST_COLLAB_STORAGE_NOT_LOADED(documentName)
    return state
  }

  // The first refusal of a load's writes ends them: later changes are refused without a round trip.
  function noteRefused (state: LogState, error: unknown): void {
    state.refused ??= refusedWrite(error)
  }

  /** Appends `update` to the load's log under its next seq and its epoch; a refusal ends the load's writes. */
  async function appendToLog (documentName: string, state: LogState, update: Uint8Array): Promise<void> {
    state.seq++
    state.logBytes += update.byteLength
    try {
      await commit.append({ documentName, seq: state.seq, update, epoch: state.epoch })
    } catch (error) {
      noteRefused(state, error)
      throw error
    }
  }

  function compact (documentName: string, state: LogState): Promise<void> {
    return commit.exclusive(async () => {
      const upToSeq = state.seq
      if (upToSeq === state.snapshotSeq) return
      const bytes = state.logBytes
      try {
        if (state.refused !== null) throw state.refused
        await traced.compact(documentName, Y.encodeStateAsUpdate(state.document), upToSeq, state.epoch)
      } catch (cause) {
        noteRefused(state, cause)
        throw new FST_COLLAB_STORAGE_COMPACT(documentName, { cause })
      }
      state.snapshotSeq = upToSeq
      state.logBytes -= bytes
    })
  }

  // An epoch is a claim: a store that cannot fence must not be given one and silently ignore it.
  function checkEpoch (documentName: string, epoch: number | undefined): void {
    if (epoch === undefined) return
    if (!fencing) throw new FST_COLLAB_STORAGE_UNFENCED(documentName)
    if (!Number.isSafeInteger(epoch) || epoch < 1) throw new FST_COLLAB_STORAGE_EPOCH(documentName, String(epoch))
  }

  return {
    priority: options.priority ?? 100,
    fencing,
    storage,

    async claim (documentName) {
      const { claim } = traced
      if (claim === undefined) throw new FST_COLLAB_STORAGE_UNFENCED(documentName)
      // The last epoch this process saw for the document, when a load of it is still known here.
      const previous = documents.get(documentName)?.epoch ?? 0
      try {
        const epoch: unknown = await commit.exclusive(() => claim(documentName))
        if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch <= previous) {
          throw new FST_COLLAB_STORAGE_CLAIM(documentName, String(epoch))
        }
        return epoch
      } catch (cause) {
        throw new FST_COLLAB_STORAGE_LOAD(documentName, { cause })
      }
    },

    async onLoadDocument ({ documentName, document, instance, epoch }) {
      useLoggerOf(instance)
      checkEpoch(documentName, epoch)
      try {
        const stored = await commit.exclusive(() => traced.load(documentName))
        // A hook before this one may have filled the document already; then what the store held is read off its updates.
        const filled = document.store.clients.size > 0
        let logBytes = 0
        document.transact(() => {
          if (stored.snapshot !== null) Y.applyUpdate(document, stored.snapshot)
          for (const update of stored.updates) {
            Y.applyUpdate(document, update)
            logBytes += update.byteLength
          }
        }, storage)
        // An earlier load whose afterUnloadDocument has not run yet may have appends still retrying: on one
        // instance (no epoch) they land with their seqs, so this load counts on from after them. Under a new
        // claim they are fenced off instead.
        const previous = documents.get(documentName)
        const seq = previous !== undefined && previous.refused === null && previous.epoch === epoch ? Math.max(stored.seq, previous.seq) : stored.seq
        const held = stored.snapshot === null ? stored.updates : [stored.snapshot, ...stored.updates]
        documents.set(documentName, {
          document, seq, snapshotSeq: seq - stored.updates.length, logBytes, compacting: false, epoch, refused: null, stored: filled ? clocksOf(held) : Y.decodeStateVector(Y.encodeStateVector(document))
        })
      } catch (cause) {
        throw new FST_COLLAB_STORAGE_LOAD(documentName, { cause })
      }
    },

    async afterLoadDocument ({ documentName, document }) {
      const state = stateOf(documentName, document)
      const clocks = state.stored
      state.stored = null
      // What the load hooks added (a template for a new document, an import) never went through onChange:
      // stored now, as part of the load, so that the edits clients build on it are never left without it.
      if (clocks === null || !addsToStored(document, clocks)) return
      try {
        await appendToLog(documentName, state, Y.encodeStateAsUpdate(document, Y.encodeStateVector(clocks)))
      } catch (cause) {
        throw new FST_COLLAB_STORAGE_LOAD(documentName, { cause })
      }
    },

    async onChange ({ documentName, document, update, instance }) {
      useLoggerOf(instance)
      const state = stateOf(documentName, document)
      if (state.refused !== null) throw state.refused
      await appendToLog(documentName, state, update)
      if (!state.compacting && (state.seq - state.snapshotSeq >= maxLogUpdates || state.logBytes >= maxLogBytes)) {
        state.compacting = true
        compact(documentName, state)
          .catch((err: Error) => logError(err, documentName))
          .finally(() => { state.compacting = false })
      }
    },

    async onStoreDocument ({ documentName, document }) {
      await compact(documentName, stateOf(documentName, document))
    },

    async beforeUnloadDocument ({ documentName, document }) {
      // A refused load must be able to unload: vetoing would keep a stale owner's copy forever.
      const state = documents.get(documentName)
      if (state?.document === document && state.refused === null) await compact(documentName, state)
    },

    async afterUnloadDocument ({ documentName, document }) {
      if (documents.get(documentName)?.document === document) documents.delete(documentName)
    },

    async onDestroy () {
      const lost = await commit.close()
      if (lost !== null) logError(lost)
    }
  }
}
