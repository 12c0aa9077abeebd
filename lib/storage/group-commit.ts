// The group commit: every update of one event-loop turn goes to the store in
// one append call, and the promise each caller holds resolves only after that
// call has committed. A failed append keeps its entries in memory and retries
// with exponential backoff; the callers keep waiting, so nothing is
// acknowledged before it is durable.
//
// It is also the store's only door: every storage call (append, load,
// compact, close) runs through exclusive(), so calls never overlap, which is
// what the CollabStorage contract promises implementations.
//
// The state machine, top to bottom:
//
//   idle       → scheduled   append(): the first entry of a turn queues a write with setImmediate
//   scheduled  → writing     the turn ended: the pending entries become one batch
//   writing    → idle        committed, nothing new arrived meanwhile
//   writing    → scheduled   committed, entries arrived during the write: the next turn writes them
//   writing    → backoff     failed: the batch goes back in front of the pending entries; a timer retries
//   backoff    → writing     the timer fired: everything pending is one batch again
//   any        → closing     close(): timers stop, appends reject, the write in flight settles
//   closing    → closed      one last attempt at what is pending, then the store closes

import type { CollabStorage, LogEntry } from './storage.js'
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

type State = 'idle' | 'scheduled' | 'writing' | 'backoff' | 'closing' | 'closed'

/** Entries that commit together, and the promise their callers wait on. */
interface Batch {
  entries: LogEntry[]
  promise: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

function createBatch (): Batch {
  const batch: Partial<Batch> = { entries: [] }
  batch.promise = new Promise<void>((resolve, reject) => { batch.resolve = resolve; batch.reject = reject })
  // A batch that is rejected at close may have no waiter left; that must not be an unhandled rejection.
  batch.promise.catch(() => {})
  return batch as Batch
}

export class GroupCommit {
  readonly #storage: CollabStorage
  readonly #initialDelay: number
  readonly #maxDelay: number
  readonly #onRetry: (error: unknown, entries: number, delay: number) => void

  #state: State = 'idle'
  #pending: Batch = createBatch()
  #inFlight: Promise<void> = Promise.resolve()
  #failures = 0
  #cancelTimer: (() => void) | null = null
  // Tail of the chain of storage calls; each call starts after the previous one settled.
  #lock: Promise<unknown> = Promise.resolve()

  /**
   * @param storage the store every call goes to.
   * @param retry backoff of failed appends.
   * @param onRetry called after each failed append with the storage's error, the number of entries kept
   *   in memory and the delay in ms before the next attempt; the extension logs it.
   */
  constructor (storage: CollabStorage, retry: Required<RetryOptions>, onRetry: (error: unknown, entries: number, delay: number) => void) {
    this.#storage = storage
    this.#initialDelay = retry.initialDelay
    this.#maxDelay = retry.maxDelay
    this.#onRetry = onRetry
  }

  /**
   * Queues an entry for this turn's batch. Resolves once the batch holding it has committed; rejects with
   * FST_COLLAB_STORAGE_CLOSED after close, or FST_COLLAB_STORAGE_LOST if the last write at close failed.
   */
  append (entry: LogEntry): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(new FST_COLLAB_STORAGE_CLOSED())
    this.#pending.entries.push(entry)
    if (this.#state === 'idle') this.#schedule()
    return this.#pending.promise
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
   * Writes what is pending (one attempt, without waiting for a backoff timer), then closes the store.
   * Entries that still cannot be written are lost: their promises reject with FST_COLLAB_STORAGE_LOST,
   * which is also what this returns, so the caller can log it; `null` when nothing was lost.
   */
  async close (): Promise<Error | null> {
    if (this.#state === 'closing' || this.#state === 'closed') return null
    this.#cancelTimer?.()
    this.#cancelTimer = null
    this.#state = 'closing'
    await this.#inFlight
    let lost: Error | null = null
    if (this.#pending.entries.length > 0) {
      const batch = this.#take()
      try {
        await this.exclusive(() => this.#storage.append(batch.entries))
        batch.resolve()
      } catch (cause) {
        lost = new FST_COLLAB_STORAGE_LOST(batch.entries.length, { cause })
        batch.reject(lost)
      }
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

  #take (): Batch {
    const batch = this.#pending
    this.#pending = createBatch()
    return batch
  }

  #write (): void {
    this.#cancelTimer = null
    this.#state = 'writing'
    const batch = this.#take()
    this.#inFlight = this.exclusive(() => this.#storage.append(batch.entries)).then(
      () => {
        this.#failures = 0
        batch.resolve()
        if (this.#state !== 'writing') return
        if (this.#pending.entries.length > 0) this.#schedule()
        else this.#state = 'idle'
      },
      (error: unknown) => {
        // The failed entries go back in front: log order is seq order, and the next batch must hold both.
        const newer = this.#pending
        // A loop, not push(...): a long outage can queue more entries than a call takes arguments.
        for (const entry of newer.entries) batch.entries.push(entry)
        batch.promise.then(newer.resolve, newer.reject)
        this.#pending = batch
        if (this.#state !== 'writing') return
        this.#failures++
        const delay = Math.min(this.#maxDelay, this.#initialDelay * 2 ** (this.#failures - 1))
        this.#state = 'backoff'
        const timeout = setTimeout(() => this.#write(), delay)
        this.#cancelTimer = () => clearTimeout(timeout)
        this.#onRetry(error, batch.entries.length, delay)
      })
  }
}
