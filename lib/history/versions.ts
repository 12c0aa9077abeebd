// Document history: versions of a document (its whole state at a moment),
// made automatically while it is edited and on demand, thinned by a
// retention policy, browsed, compared and restored.
//
// Two halves. The extension (collab hooks) follows each load of a document:
// onChange marks it changed and notes who changed it, a per-load timer makes
// a version `interval` ms after the first change that has none, and the
// last connection leaving makes one at once. The API (`bind(collab)`) reads
// versions from the store and reaches a document through a direct
// connection, as any server-side code would, so that a restore is one
// ordinary change: through the hooks, the store and the broadcast.
//
// With scale-out, only the owner of a document has its load: `create` and
// `restore` on another instance are run by the owner (an owner task, carried
// by the direct connection's session), and `diff(…, 'current')` reads the
// direct connection's replica there.
//
// Every version write carries the fencing epoch of the load it was taken
// from (the `epoch` the core passes to the load hooks with scale-out), and
// the store refuses a stale one, as it refuses a stale append.
//
// Per load: what the extension knows of a document belongs to one Y.Doc,
// registered once the load succeeded (afterLoadDocument) and dropped when
// that Y.Doc is destroyed (it unloaded, stepped down, or failed to load), so
// nothing outlives it but a version write in flight, which onDestroy awaits.

import * as Y from 'yjs'
import type { HookContext } from '../collab/hooks.js'
import type { Collab, DirectConnection } from '../collab/types.js'
import { RemoteDirect } from '../collab/direct-remote.js'
import type { CollabStorage, NewVersion, StoredVersion, VersionInfo, VersionReason } from '../storage/storage.js'
import {
  FST_COLLAB_HISTORY_NO_STORE, FST_COLLAB_HISTORY_NOT_FOUND, FST_COLLAB_HISTORY_NOT_REGISTERED, FST_COLLAB_HISTORY_UNSUPPORTED, FST_COLLAB_HISTORY_WRITE,
  FST_COLLAB_INVALID_OPTION, FST_COLLAB_SCALE_OUT_UNAVAILABLE
} from '../errors.js'
import { isFenced } from '../fence.js'
import { noop } from '../noop.js'
import { checkRetention, DEFAULT_RETENTION, thinVersions } from './retention.js'
import { restoreContent, type RootRestore } from './restore.js'
import { kindAcross, rootNames, sameJson, textOf, typed, xmlText, type RootKind } from './roots.js'
import { diffText } from './text-diff.js'
import type { HistoryClock, HistoryExtension, HistoryOptions, RestoreResult, RootDiff, Versions, VersionsHandle, VersionsOptions } from './types.js'

/** What the history knows of one load of a document. */
interface Load {
  readonly documentName: string
  readonly document: Y.Doc
  /** The epoch every version of this load carries; `undefined` without scale-out. */
  readonly epoch: number | undefined
  /** Changed since the last version taken (or being written). */
  changed: boolean
  /** Authors of those changes. */
  authors: Set<string>
  /** The timer of the next `'interval'` version, armed by the first change that no version holds. */
  timer: { handle: unknown } | null
  /** An automatic version is queued and has not taken its state yet: no other one is queued. */
  queued: boolean
  /** The version writes of this load, one after the other. */
  chain: Promise<unknown>
  /** The Y.Doc was destroyed: no timer is armed any more. */
  ended: boolean
  /** The store refused a write of this load's epoch: nothing more is written. */
  fenced: boolean
}

/**
 * The history of the plugin's `history` option, with its store found among `extensions` when none is given.
 * @returns null without the option.
 * @throws FST_COLLAB_HISTORY_NO_STORE when no store is given and not exactly one storage extension has one;
 *   FST_COLLAB_HISTORY_UNSUPPORTED when the store has no version calls (see {@link createVersions}).
 * @internal
 */
export function historyOf (option: HistoryOptions | undefined, extensions: readonly object[] = []): VersionsHandle | null {
  if (option === undefined) return null
  let { storage } = option
  if (storage === undefined) {
    const stores = extensions.flatMap((extension) => {
      const candidate = (extension as { storage?: unknown }).storage
      return candidate !== null && typeof candidate === 'object' ? [candidate as CollabStorage] : []
    })
    if (stores.length !== 1) throw new FST_COLLAB_HISTORY_NO_STORE(stores.length)
    storage = stores[0]
  }
  return createVersions({ ...option, storage })
}

const VERSION_METHODS = ['putVersion', 'listVersions', 'getVersion', 'deleteVersions'] as const
type VersionStore = Required<Pick<CollabStorage, typeof VERSION_METHODS[number]>>

// The owner tasks of the history (see collab/owner-tasks.ts).
const CREATE_TASK = 'fastify-collab:versions.create'
const RESTORE_TASK = 'fastify-collab:versions.restore'

const MAX_LIMIT = 1000
const MAX_LABEL = 1000
const PAGE = 1000

const systemClock: HistoryClock = {
  now: Date.now,
  setTimeout (fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout)
}

/** The default `author`: see {@link VersionsOptions.author}. */
export function defaultAuthor (context: HookContext): string | null {
  const { user } = context
  if (typeof user === 'string') return user
  if (user === null || typeof user !== 'object') return null
  const { id, name } = user as { id?: unknown, name?: unknown }
  if (typeof id === 'string' || typeof id === 'number') return String(id)
  return typeof name === 'string' ? name : null
}

function wholeOrInfinite (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (value !== Infinity && (!Number.isSafeInteger(value) || value < 1)) throw new FST_COLLAB_INVALID_OPTION(name, 'expected a whole number of ms >= 1, or Infinity')
  return value
}

function checkName (documentName: unknown): string {
  if (typeof documentName !== 'string' || documentName === '') throw new FST_COLLAB_INVALID_OPTION('documentName', 'expected a non-empty string')
  return documentName
}

/** A version id as given (a number, or a string of digits from a URL), or null when it cannot be one. */
function idOf (id: unknown): number | null {
  const value = typeof id === 'string' && /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : id
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : null
}

function docOf (state: Uint8Array): Y.Doc {
  const doc = new Y.Doc({ gc: false })
  Y.applyUpdate(doc, state)
  return doc
}

function infoOf (version: StoredVersion): VersionInfo {
  const { state: _state, ...info } = version
  return info
}

/**
 * Document history for the collab core: automatic and manual versions in `options.storage`, thinned by a
 * retention policy, and the API to list, read, compare and restore them.
 *
 * ```js
 * const storage = new SqliteStorage({ path })
 * const history = createVersions({ storage })
 * await app.register(fastifyCollab, { extensions: [storageExtension(storage), history.extension] })
 * const versions = history.bind(app.collab)
 * ```
 *
 * @throws FST_COLLAB_HISTORY_UNSUPPORTED when the storage lacks a version method; FST_COLLAB_INVALID_OPTION (a
 *   TypeError) for a bad option.
 */
export function createVersions (options: VersionsOptions): VersionsHandle {
  const { storage } = options ?? {}
  if (storage === null || typeof storage !== 'object') throw new FST_COLLAB_INVALID_OPTION('storage', 'expected a CollabStorage')
  const missing = VERSION_METHODS.filter((method) => typeof storage[method] !== 'function')
  if (missing.length > 0) throw new FST_COLLAB_HISTORY_UNSUPPORTED(missing.join(', '))
  const store = storage as VersionStore
  const interval = wholeOrInfinite('interval', options.interval, 600_000)
  const onLastDisconnect = options.onLastDisconnect ?? true
  if (typeof onLastDisconnect !== 'boolean') throw new FST_COLLAB_INVALID_OPTION('onLastDisconnect', 'expected a boolean')
  const author = options.author ?? defaultAuthor
  if (typeof author !== 'function') throw new FST_COLLAB_INVALID_OPTION('author', 'expected a function')
  const retention = options.retention === false ? [] : checkRetention(options.retention ?? DEFAULT_RETENTION)
  const diffTimeout = wholeOrInfinite('diffTimeout', options.diffTimeout, 250)
  const priority = options.priority ?? 200
  if (typeof priority !== 'number' || !Number.isFinite(priority)) throw new FST_COLLAB_INVALID_OPTION('priority', 'expected a number')
  const clock = options.clock ?? systemClock
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new FST_COLLAB_INVALID_OPTION('clock', 'expected { now, setTimeout, clearTimeout }')
  }
  let log = options.log ?? null

  // Live loads, for the timers; every load (ended ones too, while their Y.Doc lives), for their chains.
  const live = new Set<Load>()
  const loads = new WeakMap<Y.Doc, Load>()
  // Version writes in flight, for onDestroy.
  const pending = new Set<Promise<unknown>>()

  function logError (error: Error, documentName: string): void {
    const level = isFenced(error.cause) ? 'warn' : 'error'
    if (log === null) return process.emitWarning(error)
    log[level]({ err: error, documentName }, error.message)
  }

  function disarm (load: Load): void {
    if (load.timer === null) return
    clock.clearTimeout(load.timer.handle)
    load.timer = null
  }

  function arm (load: Load): void {
    if (load.timer !== null || load.ended || load.fenced || interval === Infinity) return
    const timer: { handle: unknown } = { handle: null }
    timer.handle = clock.setTimeout(() => {
      if (load.timer !== timer) return
      load.timer = null
      automatic(load, 'interval')
    }, interval)
    load.timer = timer
  }

  /** Runs `fn` after the load's earlier version writes have settled. */
  function enqueue<T> (load: Load, fn: () => Promise<T>): Promise<T> {
    const run = load.chain.then(fn)
    const settled = run.catch(noop)
    load.chain = settled
    pending.add(settled)
    settled.finally(() => pending.delete(settled)).catch(noop)
    return run
  }

  /** Queues an automatic version when the load has changes no version holds and none is queued; failures are logged. */
  function automatic (load: Load, reason: 'interval' | 'disconnect'): void {
    if (!load.changed || load.queued || load.fenced) return
    load.queued = true
    enqueue(load, async () => {
      // A manual version or a restore may have taken these changes meanwhile.
      if (load.changed) return await take(load, reason, null)
      load.queued = false
    }).catch((error: unknown) => {
      logError(new FST_COLLAB_HISTORY_WRITE(load.documentName, { cause: error }), load.documentName)
    })
  }

  /** Takes the document's state now and stores it as a version; runs inside the load's chain. */
  async function take (load: Load, reason: VersionReason, label: string | null): Promise<VersionInfo> {
    load.queued = false
    const changed = load.changed
    const authors = [...load.authors].sort()
    load.changed = false
    load.authors = new Set()
    disarm(load)
    const version: NewVersion = {
      documentName: load.documentName,
      createdAt: clock.now(),
      label,
      authors,
      reason,
      state: Y.encodeStateAsUpdate(load.document),
      epoch: load.epoch
    }
    let id: number
    try {
      id = await store.putVersion(version)
    } catch (error) {
      if (isFenced(error)) load.fenced = true
      // The changes still have no version: the next trigger tries again.
      load.changed ||= changed
      for (const name of authors) load.authors.add(name)
      if (load.changed) arm(load)
      throw error
    }
    await thin(load)
    const { epoch: _epoch, state, ...info } = version
    return { ...info, id, size: state.byteLength }
  }

  /** Applies the retention policy to the load's document; failures are logged (the next version tries again). */
  async function thin (load: Load): Promise<void> {
    if (retention.length === 0) return
    try {
      const versions: VersionInfo[] = []
      let before: number | undefined
      for (;;) {
        const page = await store.listVersions(load.documentName, { limit: PAGE, before })
        versions.push(...page)
        if (page.length < PAGE) break
        before = page[page.length - 1].id
      }
      const candidates = versions.filter((version) => version.reason !== 'restore')
      const ids = thinVersions(candidates, clock.now(), retention)
      if (ids.length > 0) await store.deleteVersions(load.documentName, ids, load.epoch)
    } catch (error) {
      if (isFenced(error)) load.fenced = true
      logError(new FST_COLLAB_HISTORY_WRITE(load.documentName, { cause: error }), load.documentName)
    }
  }

  // The Y.Doc of a load is destroyed when it unloads, steps down or fails to load: its timer goes, and changes
  // that no version holds get one (a server closing never asks beforeUnloadDocument, and nobody disconnects first).
  function ended (load: Load): void {
    if (load.ended) return
    load.ended = true
    live.delete(load)
    disarm(load)
    automatic(load, 'disconnect')
  }

  const extension: HistoryExtension = {
    priority,

    async afterLoadDocument ({ documentName, document, epoch, instance }) {
      log ??= instance.log
      const load: Load = {
        documentName,
        document,
        epoch,
        changed: false,
        authors: new Set(),
        timer: null,
        queued: false,
        chain: Promise.resolve(),
        ended: false,
        fenced: false
      }
      loads.set(document, load)
      live.add(load)
      document.once('destroy', () => ended(load))
    },

    async onChange ({ document, context }) {
      const load = loads.get(document)
      if (load === undefined || load.ended) return
      load.changed = true
      const name = author(context)
      if (typeof name === 'string') load.authors.add(name)
      arm(load)
    },

    async onDisconnect ({ document, clientsCount }) {
      const load = loads.get(document)
      if (load === undefined || clientsCount > 0 || !onLastDisconnect) return
      automatic(load, 'disconnect')
    },

    // The version the last disconnect queued is written before the document unloads (and gives up its claim).
    async beforeUnloadDocument ({ document }) {
      await loads.get(document)?.chain
    },

    async afterUnloadDocument ({ document }) {
      await loads.get(document)?.chain
    },

    async onDestroy () {
      for (const load of live) disarm(load)
      while (pending.size > 0) await Promise.all(pending)
    },

    // What the owner runs for an instance that does not own the document (scale-out).
    ownerTasks: {
      [CREATE_TASK]: async (instance, documentName, args) => {
        const { label, context } = args as { label: string | null, context: HookContext }
        return await operationsOn(instance).create(documentName, label, context, false)
      },
      [RESTORE_TASK]: async (instance, documentName, args) => {
        const { id, context } = args as { id: unknown, context: HookContext }
        return await operationsOn(instance).restore(documentName, id, context, false)
      }
    }
  }

  /**
   * The operations on a document's load, for `collab`: run here when this instance serves the document;
   * with `forward` (the API), asked of the owner when another instance does (scale-out). The owner runs
   * them with `forward` off, so an operation is never forwarded twice.
   */
  function operationsOn (collab: Collab) {
    /**
     * Runs `fn` on the document's load, through a direct connection that keeps it loaded meanwhile; where
     * another instance owns the document, that owner runs `forward` (the task, with its arguments) instead.
     */
    async function withLoad<T> (documentName: string, context: HookContext, forward: { task: string, args: unknown } | null, fn: (load: Load, connection: DirectConnection) => Promise<T>): Promise<T> {
      const connection = await collab.openDirectConnection(documentName, context)
      try {
        const load = loads.get(connection.document)
        if (load !== undefined && !load.ended) return await fn(load, connection)
        if (!(connection instanceof RemoteDirect)) throw new FST_COLLAB_HISTORY_NOT_REGISTERED(documentName)
        // Only the owner has the load's state (its authors, its fencing epoch): it runs the operation.
        if (forward === null) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause: new Error('the document moved to another instance') })
        return await connection.run(forward.task, forward.args) as T
      } finally {
        await connection.disconnect()
      }
    }

    async function create (documentName: string, label: string | null, context: HookContext, forward: boolean): Promise<VersionInfo> {
      return await withLoad(documentName, context, forward ? { task: CREATE_TASK, args: { label, context } } : null, (load) => enqueue(load, () => take(load, 'manual', label)))
    }

    async function restore (documentName: string, id: unknown, context: HookContext, forward: boolean): Promise<RestoreResult> {
      const version = await stored(documentName, id)
      const target = docOf(version.state)
      return await withLoad(documentName, context, forward ? { task: RESTORE_TASK, args: { id, context } } : null, (load, connection) => enqueue(load, async () => {
        // The state before is stored first; should edits arrive while it is written, it is taken again (a
        // few times at most), so that what the restore replaces is in a version.
        let moved = false
        const onUpdate = (): void => { moved = true }
        load.document.on('update', onUpdate)
        try {
          let saved: VersionInfo
          for (let attempt = 1; ; attempt++) {
            moved = false
            saved = await take(load, 'restore', null)
            if (!moved || attempt === 3) break
          }
          let roots: RootRestore[] = []
          await connection.transact((document) => { roots = restoreContent(document, target, diffTimeout) })
          return { saved, restored: infoOf(version), roots }
        } finally {
          load.document.off('update', onUpdate)
        }
      }))
    }

    /** The document as it is now: a copy of its state, read through a direct connection (a replica on a non-owner). */
    async function current (documentName: string, context: HookContext): Promise<Y.Doc> {
      const connection = await collab.openDirectConnection(documentName, context)
      try {
        return docOf(Y.encodeStateAsUpdate(connection.document))
      } finally {
        await connection.disconnect()
      }
    }

    return { create, restore, current }
  }

  async function stored (documentName: string, id: unknown): Promise<StoredVersion> {
    const wanted = idOf(id)
    const version = wanted === null ? null : await store.getVersion(documentName, wanted)
    if (version === null) throw new FST_COLLAB_HISTORY_NOT_FOUND(documentName, String(id))
    return version
  }

  function bind (collab: Collab): Versions {
    log ??= collab.log
    const operations = operationsOn(collab)

    return {
      async create (documentName, { label = null, context = {} } = {}) {
        checkName(documentName)
        if (label !== null && (typeof label !== 'string' || label.length > MAX_LABEL)) throw new FST_COLLAB_INVALID_OPTION('label', `expected null or a string of at most ${MAX_LABEL} characters`)
        return await operations.create(documentName, label, context, true)
      },

      async list (documentName, { limit = 50, before } = {}) {
        checkName(documentName)
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new FST_COLLAB_INVALID_OPTION('limit', `expected a whole number from 1 to ${MAX_LIMIT}`)
        if (before !== undefined && idOf(before) === null) throw new FST_COLLAB_INVALID_OPTION('before', 'expected a version id')
        return await store.listVersions(documentName, { limit, before: before === undefined ? undefined : idOf(before) as number })
      },

      async get (documentName, id) {
        checkName(documentName)
        return docOf((await stored(documentName, id)).state)
      },

      async diff (documentName, from, to, { context = {} } = {}) {
        checkName(documentName)
        const before = docOf((await stored(documentName, from)).state)
        const after = to === 'current' ? await operations.current(documentName, context) : docOf((await stored(documentName, to)).state)
        const roots: RootDiff[] = []
        for (const name of rootNames(before, after)) {
          const kind = kindAcross(name, before, after)
          if (kind === undefined) continue
          roots.push(diffRoot(name, kind, before, after, diffTimeout))
        }
        return { documentName, from: idOf(from) as number, to: to === 'current' ? to : idOf(to) as number, roots }
      },

      async restore (documentName, id, { context = {} } = {}) {
        checkName(documentName)
        return await operations.restore(documentName, id, context, true)
      }
    }
  }

  return { extension, bind }
}

function diffRoot (name: string, kind: RootKind, before: Y.Doc, after: Y.Doc, diffTimeout: number): RootDiff {
  if (kind === 'map' || kind === 'array') {
    return { name, kind, changed: !sameJson(typed(before, name, kind).toJSON(), typed(after, name, kind).toJSON()) }
  }
  const read = (doc: Y.Doc): string => kind === 'text' ? textOf(typed(doc, name, 'text')) : xmlText(typed(doc, name, 'xml'))
  const { changes, granularity } = diffText(read(before), read(after), diffTimeout)
  let inserted = 0
  let deleted = 0
  for (const change of changes) {
    if (change.type === 'insert') inserted += change.text.length
    else if (change.type === 'delete') deleted += change.text.length
  }
  return { name, kind, changes, inserted, deleted, granularity }
}
