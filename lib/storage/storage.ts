// The storage interface: what a durable back end must do, and nothing more.
// Batching, retry, sequence numbers and when to compact live in the
// generic extension (extension.ts), so a Postgres or S3 store only has to
// implement these four calls, plus claim() to issue fencing epochs.

/**
 * One update to append to a document's log.
 *
 * - `documentName`: the document it belongs to.
 * - `seq`: its position in that document's log, assigned by the extension: 1, 2, 3, … with no gaps,
 *   continuing from {@link StoredDocument.seq} after a load. Unique per document.
 * - `update`: a Yjs update, format v1 (yjs `encodeStateAsUpdate` / the `update` of `onChange`), in bytes.
 * - `epoch`: the fencing epoch the store issued to the claim it was made under (see
 *   {@link CollabStorage.claim}), or `undefined` when nobody claims documents (one instance): then no fence
 *   is checked.
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
 * locking of its own within one process.
 *
 * One writer per document at a time. With several instances (`scaleOut`), `claim` is what makes that
 * true whatever Redis loses: the store issues each claim a fencing epoch higher than every earlier one,
 * and refuses the writes of a lower one (Kleppmann, "How to do distributed locking", 2016). Redis only
 * routes clients to the owner; the store decides what is safe.
 *
 * `lib/sqlite` is the reference implementation; `lib/postgres` the networked one. `test/storage/` runs the
 * same contract tests on both.
 */
export interface CollabStorage {
  /**
   * Reads a document's snapshot and the log entries after it, as one consistent view (a compaction cannot
   * fall between the two reads). An unknown document gives `{ snapshot: null, updates: [], seq: 0 }`.
   */
  load (documentName: string): StoredDocument | Promise<StoredDocument>
  /**
   * Appends entries, possibly of several documents, atomically: all of them are durable when this
   * resolves, or none is when it rejects. This is the group commit: one call per event-loop turn (or per
   * bounded chunk of a backlog).
   *
   * `(documentName, seq)` identifies an update. An entry already stored with the **same bytes** (a retry
   * after an ambiguous failure) is ignored; one stored with **different bytes** means another writer used
   * the same sequence numbers: throw FST_COLLAB_STORAGE_CONFLICT (made by `conflictError`, listing every
   * such document) and write nothing. Never ignore it in silence: every later update of that writer
   * depends on the one that was dropped.
   *
   * Fencing, in the same transaction: when an entry carries an `epoch` lower than the one its document's
   * last `claim` issued, throw FST_COLLAB_STORAGE_FENCED (made by `fencedError`, listing every such
   * document) and write nothing. The fence is checked before the conflicts.
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
   * Claims a document for a new owner: records and returns a new fencing epoch, a whole number greater
   * than every epoch this store ever returned for the document (the first claim returns 1), committed
   * durably before it resolves. For example `INSERT … VALUES (name, 1) ON CONFLICT (document) DO UPDATE SET
   * epoch = epoch + 1 RETURNING epoch`, serialised with the fence checks of `append` and `compact`. From then
   * on those refuse entries of a lower epoch, so a load that starts after the claim resolved sees every
   * write any earlier owner got acknowledged, and no earlier owner writes again.
   *
   * The epoch must come from the store, never from a counter elsewhere: Redis restarts empty, fails over to
   * a replica that was behind, or is flushed, and a counter there starts again from zero (two owners would
   * then write under the same token).
   *
   * Optional: a store without it cannot be used with scale-out (the extension's `fencing` is false, and the
   * plugin refuses `scaleOut` with FST_COLLAB_SCALE_OUT_UNFENCED). A claim that returns anything but such an
   * epoch fails the load with FST_COLLAB_STORAGE_CLAIM.
   */
  claim? (documentName: string): number | Promise<number>
  /** Releases the store's resources. Called once, after the last write. */
  close (): void | Promise<void>

  // --- versions (document history, optional) ---------------------------------------------------------
  // The four calls below keep a document's versions (lib/history). A store implements all four or none:
  // without them, `createVersions` throws FST_COLLAB_HISTORY_UNSUPPORTED, naming the ones missing, and the
  // rest of the store works as before. Unlike the calls above they come from the history layer, not the
  // storage extension's queue, so they may run while another call of the store runs: SQLite's calls are
  // synchronous, and PostgreSQL's go to another pooled connection. Each must still be atomic on its own.

  /**
   * Stores a new version, and returns its id: a whole number >= 1, unique in the store and greater than every
   * id it returned before, so that ids order a document's versions by when they were stored (the `before`
   * cursor of {@link listVersions}). A version is never changed once stored.
   *
   * Fenced like `compact`, in the same transaction: with an `epoch` lower than the one the document's last
   * `claim` issued, throw FST_COLLAB_STORAGE_FENCED (made by `fencedError`) and store nothing.
   */
  putVersion? (version: NewVersion): number | Promise<number>
  /**
   * The versions of a document without their states, newest first (highest id first): at most `limit` of
   * them, and only those with an id lower than `before` when it is given. An unknown document gives `[]`.
   */
  listVersions? (documentName: string, options: { limit: number, before?: number }): VersionInfo[] | Promise<VersionInfo[]>
  /** One version of a document with its state, or `null` when the document has no version of that id. */
  getVersion? (documentName: string, id: number): StoredVersion | null | Promise<StoredVersion | null>
  /**
   * Deletes versions of a document by id (ids it does not hold are ignored), atomically. Fenced like
   * {@link putVersion}: with a stale `epoch`, throw FST_COLLAB_STORAGE_FENCED and delete nothing.
   */
  deleteVersions? (documentName: string, ids: readonly number[], epoch?: number): void | Promise<void>
}

/**
 * Why a version was made:
 * - `'interval'`: the document had been edited for `versions.interval` ms since the previous version;
 * - `'disconnect'`: the last connection left after changes (or the document unloaded with changes that had no version yet);
 * - `'manual'`: `versions.create()`;
 * - `'restore'`: the state just before `versions.restore()` replaced it.
 */
export type VersionReason = 'interval' | 'disconnect' | 'manual' | 'restore'

/**
 * A version without its state, as {@link CollabStorage.listVersions} returns it.
 *
 * - `id`: issued by the store (see {@link CollabStorage.putVersion}); a whole number >= 1.
 * - `documentName`: the document it is a version of.
 * - `createdAt`: when its state was taken, in ms since the Unix epoch (the history's clock).
 * - `label`: a name given by `versions.create(name, { label })`, or `null`. Labelled versions are never thinned.
 * - `authors`: who changed the document since the previous version (`versions.author(context)` of each change's
 *   connection), sorted, without repeats; `[]` when nobody known did.
 * - `reason`: see {@link VersionReason}.
 * - `size`: the byte length of its state.
 */
export interface VersionInfo {
  id: number
  documentName: string
  createdAt: number
  label: string | null
  authors: string[]
  reason: VersionReason
  size: number
}

/** A version with its state: the whole document at `createdAt`, as a Yjs v1 update (`Y.encodeStateAsUpdate`). */
export interface StoredVersion extends VersionInfo {
  state: Uint8Array
}

/**
 * What {@link CollabStorage.putVersion} stores: a {@link StoredVersion} without `id` and `size` (the store
 * issues the one and measures the other), with the fencing `epoch` of the load that took it (`undefined`
 * without scale-out: no fence is checked).
 */
export interface NewVersion extends Omit<StoredVersion, 'id' | 'size'> {
  epoch?: number
}
