// The public shapes of document history: its options, its API on `fastify.collab`, and what the API
// returns. A leaf beside versions.ts, which implements them.

import type { FastifyBaseLogger } from 'fastify'
import type * as Y from 'yjs'
import type { Extension, HookContext } from '../collab/hooks.js'
import type { Collab } from '../collab/types.js'
import type { OwnerTasks } from '../collab/owner-tasks.js'
import type { CollabStorage, VersionInfo } from '../storage/storage.js'
import type { RetentionTier } from './retention.js'
import type { RootRestore } from './restore.js'
import type { DiffGranularity, TextChange } from './text-diff.js'

/**
 * The clock of the history: the time versions are stamped with and retention reads, and the timers of
 * automatic versions. Default: `Date.now` and Node's timers (unref'd). Give another to test with a fake clock,
 * or to replay an editing trace with simulated time.
 */
export interface HistoryClock {
  /** The time, in ms since the Unix epoch. */
  now: () => number
  /** Calls `fn` once after `ms` ms; returns a handle for `clearTimeout`. */
  setTimeout: (fn: () => void, ms: number) => unknown
  /** Cancels a timer `setTimeout` returned (a handle of a timer that has fired is ignored). */
  clearTimeout: (handle: unknown) => void
}

/**
 * The plugin's `history` option: {@link VersionsOptions}, where `storage` defaults to the store of the one
 * storage extension among `extensions` (`sqlite()`, `postgres()`, `storageExtension()`).
 */
export type HistoryOptions = Omit<VersionsOptions, 'storage'> & { storage?: CollabStorage }

/** The history option of the plugin. */
export interface HistoryPluginOptions {
  /**
   * Keeps versions of every document (see {@link VersionsOptions}); `fastify.collab.versions` is then the API.
   * `{}` takes every default. Default: none (no history; `fastify.collab.versions` is undefined).
   * Registration throws FST_COLLAB_HISTORY_NO_STORE when no store is given and not exactly one storage
   * extension is there to keep them, FST_COLLAB_HISTORY_UNSUPPORTED when the store has no version calls.
   */
  history?: HistoryOptions
}

/** What the history adds to `fastify.collab`. */
export interface HistoryApi {
  /** Document history: set when the plugin's `history` option is given, undefined otherwise. */
  readonly versions: Versions | undefined
}

/** Options of {@link createVersions}. */
export interface VersionsOptions {
  /**
   * The store versions are kept in: a {@link CollabStorage} with `putVersion`, `listVersions`, `getVersion` and
   * `deleteVersions` (`SqliteStorage`, `PostgresStorage`), normally the one the app's storage extension writes
   * documents to, so that one claim fences both. Required.
   */
  storage: CollabStorage
  /**
   * A document being edited gets a version this many ms after its first change that no version holds yet, so
   * at most one per interval while edits go on. Default 600,000 (10 minutes). `Infinity` turns these off.
   */
  interval?: number
  /** Make a version when the last connection leaves a document changed since its last version. Default `true`. */
  onLastDisconnect?: boolean
  /**
   * Who made a change, from the hook context of the connection that made it (`onChange`'s `context`): a name or
   * id kept in the next version's `authors`, or `null` (not counted). Default: `context.user` when it is a
   * string, else `context.user.id` (a string or a number, as a string), else `context.user.name` (a string),
   * else `null`; so an `onAuthenticate` returning `{ user: { id, name } }` is counted by id.
   */
  author?: (context: HookContext) => string | null
  /**
   * Which versions to keep: see {@link RetentionTier} and {@link thinVersions}; applied to a document after each
   * version stored for it. Labelled versions and `'restore'` ones (the state before a restore) are always kept.
   * Default {@link DEFAULT_RETENTION}: everything for 24 hours, then one per hour for 30 days, then one per day.
   * `false` keeps every version.
   */
  retention?: readonly RetentionTier[] | false
  /**
   * How long, in ms, the text diff of one root may hold the event loop in `diff` and `restore` (jsdiff is
   * synchronous): by lines, then each changed hunk by characters, smallest first, while this lasts. Past it the
   * diff stays coarser (whole lines, or the changed middle as one replacement), never wrong: a restore then
   * keeps the identity of less text. Default 250.
   */
  diffTimeout?: number
  /**
   * Hook order among the extensions, higher first. It must be above the storage extension's (100 by default):
   * onDestroy then writes the last versions before the store closes. Default 200.
   */
  priority?: number
  /** See {@link HistoryClock}. Default: the system clock and Node's timers. */
  clock?: HistoryClock
  /** Where failed automatic versions are logged. Default: `collab.log` (from `bind`, or the first hook's `instance`). */
  log?: FastifyBaseLogger
}

/** The collab hooks of the history: put {@link VersionsHandle.extension} among the plugin's `extensions`. */
export interface HistoryExtension extends Extension {
  priority: number
  /**
   * `versions.create` and `.restore`, as the owner of a document runs them for an instance that does not
   * own it (scale-out).
   * @internal
   */
  ownerTasks: OwnerTasks
}

/** The difference of one root between two versions (see {@link Versions.diff}). */
export type RootDiff =
  | {
    name: string
    /** A Y.Text (`'text'`), or a Y.XmlFragment (`'xml'`) compared as the text it reads as (one line per block element). */
    kind: 'text' | 'xml'
    /** Runs of kept, inserted and deleted text, in order (see `TextChange`). */
    changes: TextChange[]
    /** Characters (UTF-16 code units) inserted and deleted. */
    inserted: number
    deleted: number
    /** `'char'`, or coarser when the diff passed `diffTimeout` (see `DiffGranularity`). */
    granularity: DiffGranularity
  }
  | {
    name: string
    kind: 'map' | 'array'
    /** Whether its content (as JSON) differs. */
    changed: boolean
  }

/** What {@link Versions.diff} returns. */
export interface VersionDiff {
  documentName: string
  from: number
  to: number | 'current'
  /** Every root that holds anything in either state, in order of first appearance. */
  roots: RootDiff[]
}

/** What {@link Versions.restore} returns. */
export interface RestoreResult {
  /** The version made of the document just before the restore (reason `'restore'`): the restore can itself be undone. */
  saved: VersionInfo
  /** The version restored. */
  restored: VersionInfo
  /** What the restore did to each root. */
  roots: RootRestore[]
}

/**
 * `fastify.collab.versions`: the history of documents. Every method works on every instance. With
 * `scaleOut`, `create` and `restore` on an instance that does not own the document are run by its owner (the
 * only instance that knows who changed the document since its last version, and that may write under its
 * fencing epoch), asked through a direct connection's session; they reject with the owner's error, rebuilt
 * here (an error of this package keeps its code and fields; any other is FST_COLLAB_OWNER_FAILED), and with
 * FST_COLLAB_SCALE_OUT_UNAVAILABLE when that session ended before the owner answered (the operation may have
 * run: `list` tells).
 */
export interface Versions {
  /**
   * Makes a version of a document now (reason `'manual'`), through a direct connection opened with `context`
   * (default `{}`), which loads the document when it is not loaded. `label` (default `null`; at most 1,000
   * characters) names it, and keeps it from thinning.
   * @rejects FST_COLLAB_INVALID_OPTION for a bad name or label; what `openDirectConnection` rejects with
   *   (FST_COLLAB_CLOSED, FST_COLLAB_SCALE_OUT_UNAVAILABLE, the load's error); FST_COLLAB_HISTORY_NOT_REGISTERED
   *   when the extension is not among the plugin's (the owner's, with scale-out); the store's error
   *   (FST_COLLAB_STORAGE_FENCED when a newer owner claimed the document: a deposed owner writes nothing).
   */
  create: (documentName: string, options?: { label?: string | null, context?: HookContext }) => Promise<VersionInfo>
  /**
   * A document's versions without their states, newest first: at most `limit` (default 50, at most 1,000), with
   * an id lower than `before` when given (the last id of a page asks for the next one). Read from the store, on
   * any instance; `[]` for an unknown document.
   * @rejects FST_COLLAB_INVALID_OPTION for a bad limit or cursor; the store's error.
   */
  list: (documentName: string, options?: { limit?: number, before?: number }) => Promise<VersionInfo[]>
  /**
   * A version as a new `Y.Doc` holding its state (`gc` off, so nothing of it is collected). It is a detached
   * copy, connected to nothing: editing it changes no document and no version.
   * @rejects FST_COLLAB_HISTORY_NOT_FOUND; the store's error.
   */
  get: (documentName: string, id: number) => Promise<Y.Doc>
  /**
   * The text inserted and deleted between two versions, or between a version and the document as it is now
   * (`'current'`, read through a direct connection opened with `options.context`: on an instance that does not
   * own the document, its replica, which holds at least what the owner had acknowledged before the call), for
   * every Y.Text and Y.XmlFragment root; for Y.Map and Y.Array roots, whether they changed.
   * @rejects FST_COLLAB_HISTORY_NOT_FOUND; for `'current'`, what `openDirectConnection` rejects with; the store's error.
   */
  diff: (documentName: string, from: number, to: number | 'current', options?: { context?: HookContext }) => Promise<VersionDiff>
  /**
   * Makes the document's content equal to version `id`'s as one ordinary change, made through a direct
   * connection opened with `options.context` (default `{}`): it goes through the hooks (onChange sees that
   * context, and the next version counts its author), the store and the broadcast, and every client converges
   * on it. First the state before is kept as a version (reason `'restore'`, never thinned), so nothing is lost.
   * A Y.Text gets a minimal text diff, so untouched text keeps its identity (relative positions stay); other
   * roots are replaced by clones where they differ.
   *
   * The library does not check who asks: a direct connection may write whatever a read-only client may not.
   * Expose it only to users the app lets write the document (the same check as its `onAuthenticate`).
   *
   * A restore is fenced like every write: an owner that a newer claim deposed cannot store the version of the
   * state before (FST_COLLAB_STORAGE_FENCED), and so changes nothing.
   *
   * @rejects FST_COLLAB_HISTORY_NOT_FOUND; what `create` rejects with; what `DirectConnection.transact` rejects
   *   with (FST_COLLAB_STORE_BACKLOG, an onChange error): the saved version stays then.
   */
  restore: (documentName: string, id: number, options?: { context?: HookContext }) => Promise<RestoreResult>
}

/** What {@link createVersions} returns: the hooks for the plugin, and the API once `fastify.collab` exists. */
export interface VersionsHandle {
  /** The collab hooks to add to the plugin's `extensions`. */
  readonly extension: HistoryExtension
  /** The API on `collab` (`fastify.collab`); may be called more than once, every result shares this history. */
  bind: (collab: Collab) => Versions
}
