// The storage interface: what a durable back end must do, and nothing more.
// Batching, retry, sequence numbers and when to compact live in the
// generic extension (extension.ts), so a Postgres or S3 store only has to
// implement these four calls, plus claim() to fence stale owners.

/**
 * One update to append to a document's log.
 *
 * - `documentName`: the document it belongs to.
 * - `seq`: its position in that document's log, assigned by the extension: 1, 2, 3, … with no gaps,
 *   continuing from {@link StoredDocument.seq} after a load. Unique per document.
 * - `update`: a Yjs update, format v1 (yjs `encodeStateAsUpdate` / the `update` of `onChange`), in bytes.
 * - `epoch`: the fencing token of the claim it was made under (see {@link CollabStorage.claim}), or
 *   `undefined` when nobody claims documents (one instance): then no fence is checked.
 */
export interface LogEntry {
  documentName: string
  seq: number
  update: Uint8Array
  epoch?: number
}

/**
 * What {@link CollabStorage.load} returns.
 *
 * - `snapshot`: the compacted state (a Yjs v1 update), or `null` when the document was never compacted.
 * - `updates`: the log entries with a `seq` greater than the snapshot's, in `seq` order.
 * - `seq`: the highest `seq` the document has used, in the snapshot or the log; 0 for a new document.
 *   The next appended entry gets `seq + 1`.
 */
export interface StoredDocument {
  snapshot: Uint8Array | null
  updates: Uint8Array[]
  seq: number
}

/**
 * A durable store for Yjs documents: a snapshot per document plus an append-only update log.
 *
 * Every method may return a value or a promise. A call that fails must throw (or reject) and leave the
 * store as it was: the extension keeps the data in memory and calls again later. Calls never overlap:
 * the extension waits for each one to settle before it makes the next, so an implementation needs no
 * locking of its own. One server process owns a document at a time (as in Hocuspocus); with several
 * instances, `claim` and the epochs of `append` and `compact` make sure a stale owner cannot write.
 *
 * `lib/sqlite` is the reference implementation; `lib/postgres` the networked one.
 */
export interface CollabStorage {
  /** Reads a document's snapshot and the log entries after it. An unknown document gives `{ snapshot: null, updates: [], seq: 0 }`. */
  load (documentName: string): StoredDocument | Promise<StoredDocument>
  /**
   * Appends entries, possibly of several documents, atomically: all of them are durable when this
   * resolves, or none is when it rejects. This is the group commit: one call per event-loop turn (or per
   * bounded chunk of a backlog). `(documentName, seq)` identifies an update, so an entry already stored
   * (a retry after an ambiguous failure) must be ignored, not rejected.
   *
   * Fencing, in the same transaction: when an entry carries an `epoch` lower than the one its document's
   * last `claim` recorded, throw FST_COLLAB_STORAGE_FENCED (made by `fencedError`, listing every such
   * document) and write nothing.
   */
  append (entries: readonly LogEntry[]): void | Promise<void>
  /**
   * Atomically replaces a document's snapshot with `state` (a Yjs v1 update holding at least every
   * update up to `upToSeq`) and deletes its log entries with `seq <= upToSeq`. With an `epoch` lower than
   * the document's recorded one, throws FST_COLLAB_STORAGE_FENCED and changes nothing (checked in the
   * same transaction).
   */
  compact (documentName: string, state: Uint8Array, upToSeq: number, epoch?: number): void | Promise<void>
  /**
   * Records `epoch` (a whole number >= 0, the fencing token of a new owner) as the document's fence, in one
   * transaction: when it is higher than the recorded one it replaces it; an equal epoch succeeds and
   * changes nothing (a retried claim); a lower one throws FST_COLLAB_STORAGE_FENCED carrying the recorded
   * epoch. From then on `append` and `compact` refuse entries of a lower epoch.
   *
   * Optional: a store without it cannot be used with scale-out (the extension's `fencing` is false, and a
   * load with an epoch fails with FST_COLLAB_STORAGE_UNFENCED).
   */
  claim? (documentName: string, epoch: number): void | Promise<void>
  /** Releases the store's resources. Called once, after the last write. */
  close (): void | Promise<void>
}
