// The group commit: every update of one event-loop turn goes to the store in
// one append call, and the promise each caller holds resolves only after that
// call has committed. A failed append keeps its entries in memory and retries
// with exponential backoff; the callers keep waiting, so nothing is
// acknowledged before it is durable.
//
// A backlog (the store was down for a while, or a turn brought more than a
// chunk) is written in chunks of at most `maxUpdates` entries and `maxBytes`
// bytes, oldest first, one chunk per event-loop turn: SQLite's drivers are
// synchronous, so one transaction of a long outage's backlog would stop the
// server for seconds. Entries leave the queue only once committed, in queue
// order, so a crash never keeps a later update of a document without the
// earlier ones.
//
// It is also the store's only door: every storage call (append, load,
// compact, claim, close) runs through exclusive(), so calls never overlap,
// which is what the CollabStorage contract promises implementations.
//
// The state machine, top to bottom:
//
//   idle       → scheduled   append(): the first entry of a turn queues a write with setImmediate
//   scheduled  → writing     the turn ended: the oldest queued entries, up to a chunk, are appended
//   writing    → idle        committed, nothing left in the queue
//   writing    → scheduled   committed, entries remain (newer ones, or the rest of a backlog): the next
//                            chunk is written after the loop has turned
//   writing    → scheduled   refused: the stale entries (FST_COLLAB_STORAGE_FENCED), or every entry of a
//                            document whose log collided (FST_COLLAB_STORAGE_CONFLICT), are dropped and
//                            their callers rejected with that error (never retried); the rest is
//                            written at once
//   writing    → backoff     failed: the chunk stays at the head of the queue; a timer retries
//   backoff    → writing     the timer fired
//   any        → closing     close(): timers stop, appends reject, the write in flight settles
//   closing    → closed      one last attempt at what is queued, chunk by chunk, then the store closes

import type { CollabStorage, LogEntry } from './storage.js'
import { isConflict, isFenced, type RefusedWriteError } from '../fence.js'
import { FST_COLLAB_STORAGE_CLOSED, FST_COLLAB_STORAGE_LOST } from '../errors.js'

/**
 * Backoff of failed appends. The n-th consecutive failure waits `min(maxDelay, initialDelay * 2 ** (n - 1))` ms.
 * There is no attempt limit: the data stays in memory, and its acknowledgements wait, until a write succeeds
 * or the store closes.
 */
export interface RetryOptions {
  /** Delay after the first failure, in ms. Default 50. */
  initialDelay?: number
  /** Upper bound of the delay, in ms. Default 5000. */
  maxDelay?: number
}

/**
 * The bounds of one append call: a larger backlog is split into several, one per event-loop turn.
 * @internal
 */
export interface ChunkLimits {
  /** Entries per append call. */
  maxUpdates: number
  /** Bytes of updates per append call; a single larger update still goes alone. */
  maxBytes: number
}

type State = 'idle' | 'scheduled' | 'writing' | 'backoff' | 'closing' | 'closed'

/** A queued entry and the settlement of the `append` promise its caller holds. */
interface Waiting {
  entry: LogEntry
  resolve: () => void
  reject: (error: Error) => void
}

/** @internal */
export class GroupCommit {
  readonly #storage: CollabStorage
  readonly #initialDelay: number
  readonly #maxDelay: number
  readonly #limits: ChunkLimits
  readonly #onRetry: (error: unknown, entries: number, delay: number) => void

  #state: State = 'idle'
  // Entries not yet committed, oldest first; those before #head are committed and only wait to be cut off.
  #queue: Waiting[] = []
  #head = 0
  #inFlight: Promise<void> = Promise.resolve()
  #failures = 0
  #cancelTimer: (() => void) | null = null
  // Tail of the chain of storage calls; each call starts after the previous one settled.
  #lock: Promise<unknown> = Promise.resolve()

  /**
   * @param storage the store every call goes to.
   * @param retry backoff of failed appends.
   * @param limits the most one append call may carry.
   * @param onRetry called after each failed append with the storage's error, the number of entries kept
   *   in memory and the delay in ms before the next attempt; the extension logs it.
   */
  constructor (storage: CollabStorage, retry: Required<RetryOptions>, limits: ChunkLimits, onRetry: (error: unknown, entries: number, delay: number) => void) {
    this.#storage = storage
    this.#initialDelay = retry.initialDelay
    this.#maxDelay = retry.maxDelay
    this.#limits = limits
    this.#onRetry = onRetry
  }

  /** Entries waiting to be committed. */
  get #pending (): number {
    return this.#queue.length - this.#head
  }

  /**
   * Queues an entry for the next append. Resolves once the append holding it has committed; rejects with
   * FST_COLLAB_STORAGE_FENCED when the store refused its epoch, FST_COLLAB_STORAGE_CONFLICT when its
   * document's log collided with another writer's, FST_COLLAB_STORAGE_CLOSED after close, or
   * FST_COLLAB_STORAGE_LOST if the last write at close failed.
   */
  append (entry: LogEntry): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(new FST_COLLAB_STORAGE_CLOSED())
    const promise = new Promise<void>((resolve, reject) => { this.#queue.push({ entry, resolve, reject }) })
    if (this.#state === 'idle') this.#schedule()
    return promise
  }

  /**
   * Runs `fn` when no other storage call is running, and returns its result. Rejects with
   * FST_COLLAB_STORAGE_CLOSED, without running `fn`, once the store is closed.
   */
  exclusive<T> (fn: () => T | Promise<T>): Promise<T> {
    const result = this.#lock.then(() => {
      if (this.#state === 'closed') throw new FST_COLLAB_STORAGE_CLOSED()
      return fn()
    })
    this.#lock = result.catch(() => {})
    return result
  }

  /**
   * Writes what is queued (one attempt per chunk, without waiting for a backoff timer), then closes the
   * store. Entries that still cannot be written are lost: their promises reject with
   * FST_COLLAB_STORAGE_LOST, which is also what this returns, so the caller can log it; `null` when nothing
   * was lost.
   */
  async close (): Promise<Error | null> {
    if (this.#state === 'closing' || this.#state === 'closed') return null
    this.#cancelTimer?.()
    this.#cancelTimer = null
    this.#state = 'closing'
    await this.#inFlight
    let lost: Error | null = null
    while (this.#pending > 0) {
      const chunk = this.#chunk()
      try {
        await this.exclusive(() => this.#storage.append(chunk))
        this.#committed(chunk.length)
      } catch (cause) {
        if (this.#dropRefused(cause)) continue
        lost = new FST_COLLAB_STORAGE_LOST(this.#pending, { cause })
        this.#rejectAll(lost)
        break
      }
      // Let the loop turn between chunks here too: a synchronous store would otherwise hold it.
      if (this.#pending > 0) await new Promise(setImmediate)
    }
    // Set inside the lock, so calls queued behind the close are refused rather than reopening the store.
    await this.exclusive(() => {
      this.#state = 'closed'
      return this.#storage.close()
    })
    return lost
  }

  #schedule (): void {
    this.#state = 'scheduled'
    const immediate = setImmediate(() => this.#write())
    this.#cancelTimer = () => clearImmediate(immediate)
  }

  /** The oldest queued entries, within the chunk limits; at least one. */
  #chunk (): LogEntry[] {
    const { maxUpdates, maxBytes } = this.#limits
    const chunk: LogEntry[] = []
    let bytes = 0
    for (let i = this.#head; i < this.#queue.length && chunk.length < maxUpdates; i++) {
      const { entry } = this.#queue[i]
      if (chunk.length > 0 && bytes + entry.update.byteLength > maxBytes) break
      bytes += entry.update.byteLength
      chunk.push(entry)
    }
    return chunk
  }

  /** The `count` oldest entries committed: their callers are acknowledged and they leave the queue. */
  #committed (count: number): void {
    const end = this.#head + count
    for (let i = this.#head; i < end; i++) this.#queue[i].resolve()
    this.#head = end
    // Cut the committed prefix off once it is most of the array, so a long backlog costs O(n), not O(n²).
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }

  /**
   * When `error` is a store's refusal, rejects with it and drops every queued entry it refused: for
   * FST_COLLAB_STORAGE_FENCED, an entry of a listed document whose epoch is lower than the document's
   * recorded one; for FST_COLLAB_STORAGE_CONFLICT, every entry of a listed document (its log collided with
   * another writer's, so none of them can land). Returns false when it is no refusal or none matched (a
   * malformed error), so the caller treats it as an ordinary failure rather than retrying at once forever.
   */
  #dropRefused (error: unknown): boolean {
    let refuses: (entry: LogEntry) => boolean
    if (isFenced(error)) {
      const recorded = new Map<string, number>()
      error.documents.forEach((documentName, i) => recorded.set(documentName, error.epochs[i]))
      refuses = ({ documentName, epoch }) => {
        const fence = recorded.get(documentName)
        return fence !== undefined && epoch !== undefined && epoch < fence
      }
    } else if (isConflict(error)) {
      const documents = new Set(error.documents)
      refuses = ({ documentName }) => documents.has(documentName)
    } else {
      return false
    }
    const kept: Waiting[] = []
    let dropped = 0
    for (let i = this.#head; i < this.#queue.length; i++) {
      const waiting = this.#queue[i]
      if (refuses(waiting.entry)) {
        waiting.reject(error as RefusedWriteError)
        dropped++
      } else {
        kept.push(waiting)
      }
    }
    this.#queue = kept
    this.#head = 0
    return dropped > 0
  }

  #rejectAll (error: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i].reject(error)
    this.#queue = []
    this.#head = 0
  }

  #write (): void {
    this.#cancelTimer = null
    this.#state = 'writing'
    const chunk = this.#chunk()
    this.#inFlight = this.exclusive(() => this.#storage.append(chunk)).then(
      () => {
        this.#failures = 0
        this.#committed(chunk.length)
        if (this.#state !== 'writing') return
        if (this.#pending > 0) this.#schedule()
        else this.#state = 'idle'
      },
      (error: unknown) => {
        if (this.#state !== 'writing') return
        // A refused writer never retries its entries; the other documents' entries go on at once.
        if (this.#dropRefused(error)) {
          if (this.#pending > 0) this.#schedule()
          else this.#state = 'idle'
          return
        }
        // The chunk stays at the head of the queue: log order is seq order, and the retry must hold it first.
        this.#failures++
        const delay = Math.min(this.#maxDelay, this.#initialDelay * 2 ** (this.#failures - 1))
        this.#state = 'backoff'
        const timeout = setTimeout(() => this.#write(), delay)
        this.#cancelTimer = () => clearTimeout(timeout)
        this.#onRetry(error, this.#pending, delay)
      })
  }
}
