import * as Y from 'yjs'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import type { FastifyBaseLogger } from 'fastify'
import type { HookRunner, LoadPayload } from './hooks.js'
import type { ResolvedCollabOptions } from './options.js'
import type { Attachment, Collab, CollabDocument, CollabOrigin, HookContext, Receiver, Router, Tenure } from './types.js'
import type { Backlog, Resyncable } from './backlog.js'
import type { Counts } from './counts.js'
import { DocumentAwareness } from './awareness.js'
import { Outbox, sendToAll } from './broadcast.js'
import { checkUpdate } from './update-check.js'
import { encodeStateless } from './protocol/hocuspocus.js'
import {
  FST_COLLAB_CLOSED, FST_COLLAB_DOCUMENT_TOO_LARGE, FST_COLLAB_LOADING, FST_COLLAB_STORE_BACKLOG, FST_COLLAB_UPDATE_NOT_INTEGRABLE
} from '../errors.js'
import { refusedWrite } from '../fence.js'
import { documentLoadChannel, publishLimit } from '../diagnostics.js'
import { noop } from '../noop.js'

/** What a document needs from the collab instance that owns it. */
export interface DocumentHost {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly options: ResolvedCollabOptions
  readonly log: FastifyBaseLogger
  readonly documents: Map<string, LoadedDocument>
  /** The process-wide bytes of changes not through onChange yet (`maxUnstoredBytes`). */
  readonly backlog: Backlog
  /** The scale-out, or null on one instance. */
  readonly router: Router | null
  /** The counts of the metrics (updates applied); null when the app does not ask for metrics. */
  readonly counts: Counts | null
}

/**
 * The lifecycle of a document, in order. `storing` is not a state of its
 * own: a store runs beside `live`, since edits keep coming while it runs.
 *
 * - loading:   onLoadDocument/afterLoadDocument run; nobody is answered yet;
 *              changes are refused (FST_COLLAB_LOADING).
 *              → live when the load succeeds, → unloaded when it fails.
 * - live:      changes are accepted, broadcast and stored (debounced).
 *              → unloading once idle (no connection, no hold), with no store
 *              running, none failed and nothing unstored (see `whenIdle`).
 *              → closing on `fastify.close()`.
 * - unloading: beforeUnloadDocument is deciding. Changes are still accepted
 *              (remote sources, server-side edits), but no store starts:
 *              it is deferred until the hook has decided.
 *              → unloaded when the hook agrees and the document is still
 *              idle, stored and not dirty; → live otherwise (veto, arrival,
 *              change), which starts the deferred store if one is due.
 *              → closing on `fastify.close()`.
 * - closing:   `fastify.close()` runs. Changes are refused (FST_COLLAB_CLOSED);
 *              the running store or unload hook ends, then the final store.
 *              → unloaded.
 * - deposed:   the document stepped down: the store refused a write of this
 *              load (a newer claim fenced it, or another writer shares its
 *              log), or (scale-out) its lease went to another instance or
 *              its tenure passed. Changes are refused; every session is reset
 *              (4205: its client reconnects and resyncs from the store, with
 *              whoever owns the document next); nothing is stored (the store
 *              would refuse it, and has every acknowledged update already).
 *              From loading (once the load ends), live or unloading.
 *              → unloaded at once.
 * - unloaded:  out of the map, destroyed. Terminal; changes are refused.
 */
type State = 'loading' | 'live' | 'unloading' | 'closing' | 'deposed' | 'unloaded'

/**
 * The store schedule, beside the lifecycle. `dirty` (changed since the last
 * store began) is kept apart: it can be true in every phase.
 *
 * - quiet:      no timer, no store. → debouncing on a change while live.
 *               (While unloading or closing, a change only sets `dirty`:
 *               unload() and shutdown() look at it.)
 * - debouncing: the debounce timer runs. → debouncing again when the change
 *               times moved it; → running when it is due, or at once when
 *               the document becomes idle.
 * - running:    a store runs. → quiet after a success (→ debouncing when a
 *               connection remains and something changed meanwhile);
 *               → backoff after a failure, while live.
 * - backoff:    the last `failures` stores failed; the retry timer runs
 *               (storeRetryDelay, doubled per failure, at most 30 s).
 *               → running when it fires.
 */
type StorePhase =
  | { readonly name: 'quiet' }
  | { readonly name: 'debouncing', readonly timer: NodeJS.Timeout }
  | { readonly name: 'running', readonly done: Promise<void> }
  | { readonly name: 'backoff', readonly timer: NodeJS.Timeout, readonly failures: number }

const QUIET: StorePhase = { name: 'quiet' }

const MAX_RETRY_DELAY = 30_000

// The shortest time in ms between two exact measurements of a document's size (maxDocumentBytes).
const MEASURE_INTERVAL = 1000

function isReceiver (attachment: Attachment): attachment is Attachment & Receiver {
  return attachment.source === 'connection'
}

function contextOf (origin: unknown): HookContext {
  if (origin !== null && typeof origin === 'object') {
    const context = (origin as { context?: unknown }).context
    if (context !== null && typeof context === 'object') return context as HookContext
  }
  return {}
}

/**
 * One loaded document (see {@link CollabDocument}): a Y.Doc with its
 * awareness, its connections, THE state machine of its lifetime (see
 * {@link State}) and the per-document bounds.
 */
export class LoadedDocument extends Y.Doc implements CollabDocument {
  readonly name: string
  readonly awareness: Awareness
  readonly connections = new Set<Attachment>()
  readonly ready: Promise<void>
  /** With `scaleOut`, the fencing epoch the store issued to this load's claim; null on one instance. */
  readonly epoch: number | null
  // With `scaleOut`, how long this instance surely holds the document's lease; null on one instance.
  private readonly tenure: Tenure | null

  private state: State = 'loading'
  // Acquired but not yet attached: such a document must not unload.
  private holds = 0
  private readonly outbox: Outbox
  private changeResult: Promise<void> | undefined

  // Store scheduling (see StorePhase). `dirty` means "changed since the last store began".
  private storePhase: StorePhase = QUIET
  private dirty = false
  private firstChangeAt = 0
  private lastChangeAt = 0
  private unloading: Promise<void> | null = null
  private readonly shared: DocumentAwareness
  // The size bound (maxDocumentBytes): the bytes of every update applied since
  // the load began, the load's included, an upper bound of the encoded state;
  // measured exactly only when it would pass the bound (see wouldPassSize),
  // and then `measured` until the next change.
  private size = 0
  private measured = false
  private measuredAt = 0
  private lastContext: HookContext = {}
  private lastOrigin: CollabOrigin | null = null
  // The onChange chain of the latest change until it settles: an update that
  // brings nothing new may hold that very change (a client resending what it
  // sent before its reconnect), so its acknowledgement waits for it too.
  private lastWrite: Promise<void> | undefined

  /** @param tenure with `scaleOut`, the tenure of the claim whose epoch `loadPayload` carries. */
  constructor (private readonly host: DocumentHost, name: string, loadPayload: Omit<LoadPayload, 'document'>, tenure: Tenure | null = null) {
    super({ gc: true })
    this.name = name
    this.epoch = loadPayload.epoch ?? null
    this.tenure = tenure
    this.awareness = new Awareness(this)
    // y-protocols starts a 3 s interval per Awareness; Hocuspocus leaks it
    // (#1156). States are removed when their connection closes instead.
    clearInterval(this.awareness._checkInterval)
    this.awareness.setLocalState(null)
    this.shared = new DocumentAwareness(this.awareness, host.options.limits, host.instance)
    this.outbox = new Outbox(this, this.awareness, () => this.receivers(), () => this.shared.prune(), error => {
      this.host.log.error({ err: error, documentName: this.name }, 'collab broadcast failed')
      // That turn never reached the clients: make them reconnect and resync
      // (4205) rather than drift apart from the server in silence.
      for (const receiver of this.receivers()) receiver.reset()
    })
    this.on('update', this.handleUpdate)
    this.awareness.on('update', this.handleAwareness)
    this.ready = documentLoadChannel.hasSubscribers
      ? documentLoadChannel.tracePromise(this.loadContent, { instance: host.instance, documentName: name, epoch: loadPayload.epoch }, this, loadPayload)
      : this.loadContent(loadPayload)
    // Every acquirer awaits `ready`; this keeps a failure with no waiter left from being unhandled.
    this.ready.catch(noop)
  }

  /** Whether the document is loaded and accepts changes: false while loading, once `fastify.close()` began, and after unloading. */
  get isLive (): boolean {
    return this.state === 'live' || this.state === 'unloading'
  }

  /**
   * Whether this instance still holds the document (see {@link Tenure}): always on one instance. With
   * `scaleOut`, once the tenure has passed another instance may own it, so the document steps down here,
   * before it serves anything more: every path that answers a client or accepts a change asks this first.
   */
  holdsLease (): boolean {
    if (this.tenure === null || performance.now() < this.tenure.validUntil) return true
    this.stepDown('its lease may have lapsed: no renewal was confirmed in time')
    return false
  }

  /** Whether a client may be answered from this document now: it is live and still holds its lease (see {@link holdsLease}). */
  canServe (): boolean {
    return this.isLive && this.holdsLease()
  }

  /**
   * @throws {FST_COLLAB_LOADING} while the document loads.
   * @throws {FST_COLLAB_CLOSED} once `fastify.close()` began, after unloading, or once it stepped down.
   */
  private assertLive (): void {
    if (this.state === 'loading') throw new FST_COLLAB_LOADING(this.name)
    if (!this.canServe()) throw new FST_COLLAB_CLOSED()
  }

  /** Connections attached (socket sessions and direct connections). */
  getConnectionsCount (): number {
    return this.connections.size
  }

  // --- loading --------------------------------------------------------------

  private async loadContent (payload: Omit<LoadPayload, 'document'>): Promise<void> {
    const { hooks } = this.host
    const full: LoadPayload = { ...payload, document: this }
    try {
      await hooks.run('onLoadDocument', full, result => {
        if (result instanceof Y.Doc) Y.applyUpdate(this, Y.encodeStateAsUpdate(result))
        else if (result instanceof Uint8Array) Y.applyUpdate(this, result)
      })
      await hooks.run('afterLoadDocument', full)
    } catch (error) {
      // Deny every waiter (they await `ready`) and leave nothing behind.
      this.finalize()
      throw error
    }
    // Deposed while it loaded (scale-out): it leaves once the load has ended.
    if (this.state === 'deposed') return this.leave()
    this.state = 'live'
  }

  // --- connections ----------------------------------------------------------

  /** Counts an acquirer that will attach or release; keeps the document from unloading meanwhile. */
  hold (): void {
    this.holds++
  }

  /** Turns a hold into an attachment. */
  attach (attachment: Attachment): void {
    this.holds--
    this.connections.add(attachment)
  }

  /** Drops a hold that never attached (the socket closed during auth). */
  release (): void {
    this.holds--
    this.whenIdle()
  }

  /**
   * Detaches a connection, removes for everyone the awareness states it last
   * set (see {@link awarenessClientsOf}), runs onDisconnect, and stores and
   * unloads when it was the last one.
   */
  detach (attachment: Attachment): void {
    if (!this.connections.delete(attachment)) return
    this.shared.release(attachment)
    this.host.backlog.forget(attachment as Attachment & Resyncable)
    const session = attachment as { request?: LoadPayload['request'], socketId?: string }
    this.host.hooks.fire('onDisconnect', {
      instance: this.host.instance,
      documentName: this.name,
      document: this,
      context: attachment.context,
      request: session.request,
      socketId: session.socketId,
      clientsCount: this.connections.size
    })
    this.whenIdle()
  }

  /** The awareness client IDs whose latest state came from `attachment` (see DocumentAwareness). */
  awarenessClientsOf (attachment: Attachment): number[] {
    return this.shared.clientsOf(attachment)
  }

  private receivers (): Receiver[] {
    return this.state === 'unloaded' ? [] : [...this.connections].filter(isReceiver)
  }

  // --- changes --------------------------------------------------------------

  /** See {@link CollabDocument.applyUpdate}: every refusal comes before the update touches the document. */
  applyUpdate (update: Uint8Array, origin: CollabOrigin | null): Promise<void> | undefined {
    this.assertAccepting()
    // Decoding first refuses a truncated update whole (Yjs integrates the
    // structs before it reads the delete set), and tells what it depends on.
    const { integrable, addsStructs } = checkUpdate(this, update)
    if (!integrable) throw new FST_COLLAB_UPDATE_NOT_INTEGRABLE(this.name)
    if (addsStructs && this.wouldPassSize(update.length)) {
      publishLimit(this.host.instance, 'maxDocumentBytes')
      throw new FST_COLLAB_DOCUMENT_TOO_LARGE(this.name, this.host.options.limits.maxDocumentBytes)
    }
    const changed = this.transactAs(() => Y.applyUpdate(this, update, origin), origin) ?? this.lastWrite
    const { store } = this
    if (store.pendingStructs !== null || store.pendingDs !== null) {
      // checkUpdate mirrors Yjs; should they ever disagree, drop what Yjs
      // parked rather than carry it in every later merge and snapshot.
      this.host.log.error({ documentName: this.name }, 'collab: an update passed checkUpdate but left pending structs; they were dropped')
      store.pendingStructs = null
      store.pendingDs = null
      throw new FST_COLLAB_UPDATE_NOT_INTEGRABLE(this.name)
    }
    return changed
  }

  /**
   * Whether `bytes` more would pass maxDocumentBytes. The estimate never
   * falls below the true size; when it says yes, the document is measured
   * exactly, at most once a second (an encode costs as much as the document
   * is large, and a document near the bound would otherwise pay it per keystroke).
   */
  private wouldPassSize (bytes: number): boolean {
    const max = this.host.options.limits.maxDocumentBytes
    if (this.size + bytes <= max) return false
    const now = Date.now()
    if (!this.measured && now - this.measuredAt >= MEASURE_INTERVAL) {
      this.size = Y.encodeStateAsUpdate(this).length
      this.measured = true
      this.measuredAt = now
    }
    return this.size + bytes > max
  }

  /** See {@link CollabDocument.transactAs}. */
  transactAs (fn: () => void, origin: CollabOrigin | null): Promise<void> | undefined {
    this.assertAccepting()
    this.changeResult = undefined
    try {
      this.transact(fn, origin)
      return this.changeResult
    } finally {
      this.changeResult = undefined
    }
  }

  /**
   * @throws {FST_COLLAB_LOADING}, {FST_COLLAB_CLOSED} (see assertLive) or
   *   {FST_COLLAB_STORE_BACKLOG} while the backlog passes maxUnstoredBytes.
   */
  private assertAccepting (): void {
    this.assertLive()
    if (!this.host.backlog.full) return
    publishLimit(this.host.instance, 'maxUnstoredBytes')
    throw new FST_COLLAB_STORE_BACKLOG(this.host.options.limits.maxUnstoredBytes)
  }

  /** Asks `session` for its refused change again once the store has caught up (maxUnstoredBytes). */
  whenStoreCatchesUp (session: Attachment & Resyncable): void {
    this.host.backlog.wait(session)
  }

  /**
   * Applies an awareness update with `origin`, from a socket or any other
   * source, under the awareness bounds (see DocumentAwareness.apply).
   *
   * @returns true when a new state was left out: the document holds maxAwarenessStates.
   * @throws when the update is malformed or past a bound; nothing changed then.
   */
  applyAwarenessUpdate (update: Uint8Array, origin: CollabOrigin | null): boolean {
    const attachment = this.connections.has(origin as Attachment) ? origin as Attachment : undefined
    return this.shared.apply(update, origin, attachment)
  }

  /** The whole awareness as one update, or null when nobody has a state. */
  encodeAwareness (): Uint8Array | null {
    const clients = [...this.awareness.getStates().keys()]
    return clients.length === 0 ? null : encodeAwarenessUpdate(this.awareness, clients)
  }

  /** Sends a Stateless message (Hocuspocus type 5) to every Hocuspocus connection of this document, encoded once per address. */
  broadcastStateless (payload: string): void {
    const hocuspocusReceivers = this.receivers().filter(r => r.codec.protocol === 'hocuspocus')
    sendToAll(hocuspocusReceivers, (_codec, address) => encodeStateless(address, payload))
  }

  private readonly handleUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
    this.size += update.length
    this.measured = false
    // Changes made while loading are the stored state, not news.
    if (this.state === 'loading' || this.state === 'unloaded') return
    if (this.host.counts !== null) this.host.counts.updates++
    this.outbox.addUpdate(update, transaction.beforeState)
    const context = contextOf(origin)
    this.lastContext = context
    this.lastOrigin = (origin ?? null) as CollabOrigin | null
    this.markChanged()
    const { hooks } = this.host
    if (!hooks.has('onChange')) return
    // Every onChange runs, whatever another one throws: the store must see each update.
    const result = hooks.runAll('onChange', {
      instance: this.host.instance,
      documentName: this.name,
      document: this,
      update,
      origin: this.lastOrigin,
      transactionOrigin: this.lastOrigin,
      context,
      request: (origin as { request?: LoadPayload['request'] } | null)?.request,
      socketId: (origin as { socketId?: string } | null)?.socketId,
      clientsCount: this.connections.size
    })
    // Whoever applied the update may await this; nobody else must see a rejection.
    result.catch(this.onWriteFailed)
    this.lastWrite = result
    const settled = (): void => { if (this.lastWrite === result) this.lastWrite = undefined }
    result.then(settled, settled)
    this.host.backlog.track(update.length, result)
    this.changeResult = result
  }

  private readonly handleAwareness = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }, origin: unknown): void => {
    if (this.state === 'unloaded') return
    this.outbox.addAwareness([...added, ...updated, ...removed])
    this.shared.track(added, updated, removed, this.connections.has(origin as Attachment) ? origin as Attachment : undefined)
    const { hooks } = this.host
    if (!hooks.has('onAwarenessUpdate')) return
    hooks.fire('onAwarenessUpdate', {
      instance: this.host.instance,
      documentName: this.name,
      document: this,
      awareness: this.awareness,
      added,
      updated,
      removed,
      origin: (origin ?? null) as CollabOrigin | null,
      states: [...this.awareness.getStates()].map(([clientId, state]) => ({ clientId, ...state })),
      context: contextOf(origin),
      request: (origin as { request?: LoadPayload['request'] } | null)?.request,
      socketId: (origin as { socketId?: string } | null)?.socketId
    })
  }

  // --- storing --------------------------------------------------------------

  // A write the store refused: a newer claim fenced this load, or another writer shares its log. This
  // load must never acknowledge again.
  private readonly onWriteFailed = (error: unknown): void => {
    const refused = refusedWrite(error)
    if (refused !== null) this.stepDown(`the store refused a write (${refused.code})`)
  }

  private get storesAnything (): boolean {
    return this.host.hooks.has('onStoreDocument') || this.host.hooks.has('afterStoreDocument')
  }

  private markChanged (): void {
    if (!this.storesAnything) return
    const now = Date.now()
    this.lastChangeAt = now
    if (!this.dirty) {
      this.dirty = true
      this.firstChangeAt = now
    }
    // One timer per dirty document; it re-arms itself rather than being reset per change.
    if (this.state === 'live' && this.storePhase.name === 'quiet') this.debounce()
  }

  /** → debouncing, due `debounce` ms after the last change and at most `maxDebounce` ms after the first. */
  private debounce (): void {
    const { debounce, maxDebounce } = this.host.options
    const due = Math.min(this.lastChangeAt + debounce, this.firstChangeAt + maxDebounce)
    this.storePhase = { name: 'debouncing', timer: setTimeout(this.onDebounced, Math.max(0, due - Date.now())) }
  }

  private readonly onDebounced = (): void => {
    // Edits since the timer was armed moved the due time (but never past maxDebounce).
    const { debounce, maxDebounce } = this.host.options
    if (Math.min(this.lastChangeAt + debounce, this.firstChangeAt + maxDebounce) > Date.now()) return this.debounce()
    this.storePhase = QUIET
    this.storeNow(0)
  }

  /** Leaves debouncing or backoff for quiet, clearing the timer (a running store is left alone). @returns the failures so far, for the next store. */
  private stopTimer (): number {
    const phase = this.storePhase
    if (phase.name === 'debouncing' || phase.name === 'backoff') clearTimeout(phase.timer)
    if (phase.name !== 'running') this.storePhase = QUIET
    return phase.name === 'backoff' ? phase.failures : 0
  }

  /**
   * → running, unless a store runs already (it is followed up when it ends)
   * or the lifecycle forbids it: while `unloading` the store is deferred
   * (unload() goes back to live and starts it); while `closing`,
   * shutdown() makes the last one.
   */
  private storeNow (failures: number): void {
    if (this.storePhase.name === 'running' || this.state !== 'live') return
    // The phase is set before any hook runs: a hook that edits the document must see `running`.
    this.storePhase = { name: 'running', done: Promise.resolve().then(() => this.storeOnce(failures)) }
  }

  /** Runs onStoreDocument then afterStoreDocument. @returns whether both succeeded (failures are logged by the runner). */
  private async runStoreHooks (): Promise<boolean> {
    const payload = {
      instance: this.host.instance,
      documentName: this.name,
      document: this,
      context: this.lastContext,
      lastContext: this.lastContext,
      lastTransactionOrigin: this.lastOrigin,
      clientsCount: this.connections.size
    }
    try {
      await this.host.hooks.run('onStoreDocument', payload)
      await this.host.hooks.run('afterStoreDocument', payload)
      return true
    } catch (error) {
      this.onWriteFailed(error)
      return false
    }
  }

  private async storeOnce (failures: number): Promise<void> {
    const since = this.firstChangeAt
    this.dirty = false
    const ok = await this.runStoreHooks()
    this.storePhase = QUIET
    if (!ok) {
      // Keep the document and its changes; try again later (or at shutdown).
      if (!this.dirty) this.firstChangeAt = since
      this.dirty = true
    }
    // shutdown() awaits this store, then makes the last one itself.
    if (this.state !== 'live') return
    if (!ok) {
      const delay = Math.min(this.host.options.storeRetryDelay * 2 ** failures, MAX_RETRY_DELAY)
      this.storePhase = { name: 'backoff', timer: setTimeout(this.onBackoff, delay), failures: failures + 1 }
      return
    }
    if (this.dirty && !this.isIdle()) return this.debounce()
    this.whenIdle()
  }

  private readonly onBackoff = (): void => {
    this.storeNow(this.stopTimer())
  }

  // --- unloading ------------------------------------------------------------

  private isIdle (): boolean {
    return this.connections.size === 0 && this.holds === 0
  }

  /** Whether nothing is left to store: no store running or failed, nothing changed since the last one began. */
  private isStored (): boolean {
    return this.storePhase.name === 'quiet' && !this.dirty
  }

  /**
   * Called whenever the document may have become idle (a detach, a
   * release, a store that ended, an unload that did not happen): store
   * what changed, then unload.
   */
  private whenIdle (): void {
    if (!this.isIdle() || this.state !== 'live') return
    // A running store calls back when it ends; a failed one retries first.
    if (this.storePhase.name === 'running' || this.storePhase.name === 'backoff') return
    if (this.dirty) return this.storeNow(this.stopTimer())
    this.unloading = this.unload()
  }

  /** live → unloading → unloaded, or back to live (see {@link State}). */
  private async unload (): Promise<void> {
    this.state = 'unloading'
    const { hooks, instance } = this.host
    let vetoed = false
    try {
      await hooks.run('beforeUnloadDocument', { instance, documentName: this.name, document: this })
    } catch {
      vetoed = true
    } finally {
      this.unloading = null
    }
    // shutdown() began while the hook ran: it finishes the document.
    if (this.state !== 'unloading') return
    if (!vetoed && this.isIdle() && this.isStored()) {
      this.finalize()
      hooks.fire('afterUnloadDocument', { instance, documentName: this.name, document: this })
      return
    }
    this.state = 'live'
    // A change that came in while the hook ran has a deferred store: schedule
    // it (whenIdle starts it at once when nobody is attached).
    if (this.dirty) this.debounce()
    // After a veto with nothing to store, nothing asks again until the document
    // next becomes idle (a disconnect, or a store after a change).
    if (this.dirty || !vetoed) this.whenIdle()
  }

  /**
   * → unloaded: out of the map, no timer, destroyed. An app's 'destroy'
   * listener (on the Y.Doc or the awareness) that throws is logged: the
   * document is gone all the same and nothing is left behind.
   */
  private finalize (): void {
    this.state = 'unloaded'
    this.stopTimer()
    if (this.host.documents.get(this.name) === this) this.host.documents.delete(this.name)
    for (const target of [this.awareness, this]) {
      try {
        target.destroy()
      } catch (error) {
        this.host.log.error({ err: error, documentName: this.name }, 'collab: a destroy listener threw while the document unloaded')
      }
    }
    if (this.epoch !== null) this.host.router?.unloaded(this.name, this.epoch)
  }

  // The document can no longer be served from this load. The scale-out's ownership ends (it calls depose
  // with this epoch); on one instance, or when ownership has moved on already, the document deposes itself.
  private stepDown (reason: string): void {
    if (this.epoch !== null) this.host.router?.lose(this.name, this.epoch, reason)
    this.depose(this.epoch, reason)
  }

  /**
   * Steps the load under `epoch` down (see {@link State}, deposed); nothing happens when this load has
   * another epoch, or has ended already. It leaves the documents map at once, so that a new connection
   * places and loads the document again instead of attaching here.
   */
  depose (epoch: number | null, reason: string): void {
    if (epoch !== this.epoch || this.state === 'deposed' || this.state === 'closing' || this.state === 'unloaded') return
    this.host.log.warn({ documentName: this.name, epoch }, `collab: stepping down: ${reason}`)
    const loading = this.state === 'loading'
    this.state = 'deposed'
    if (this.host.documents.get(this.name) === this) this.host.documents.delete(this.name)
    // A load in progress decides nothing any more; loadContent() calls leave() when it ends.
    if (!loading) this.leave()
  }

  // deposed → unloaded: reset every session, then unload without storing.
  private leave (): void {
    for (const receiver of this.receivers()) receiver.reset()
    this.finalize()
    this.host.hooks.fire('afterUnloadDocument', { instance: this.host.instance, documentName: this.name, document: this })
  }

  /** Resolves when the store or unload running now has ended (a retry that follows is not awaited). */
  async settle (): Promise<void> {
    if (this.storePhase.name === 'running') await this.storePhase.done
    await this.unloading
  }

  /**
   * For `fastify.close()`: from now on changes are refused
   * (FST_COLLAB_CLOSED; a Hocuspocus sender gets SyncStatus 0). Waits for
   * the running store or beforeUnloadDocument, stores once more if anything
   * changed (a failure is logged; there is no later), then unloads without
   * asking beforeUnloadDocument, and runs afterUnloadDocument.
   */
  async shutdown (): Promise<void> {
    if (this.state === 'loading') {
      try {
        await this.ready
      } catch {
        return
      }
    }
    if (this.state === 'unloaded' || this.state === 'closing' || this.state === 'deposed') return
    this.state = 'closing'
    this.stopTimer()
    await this.settle()
    // Changes are refused now, but a server-side edit outside transactAs still
    // dirties the document; store until nothing is left or a store fails.
    while (this.dirty) {
      this.dirty = false
      if (!await this.runStoreHooks()) break
    }
    this.finalize()
    await this.host.hooks.run('afterUnloadDocument', { instance: this.host.instance, documentName: this.name, document: this }).catch(noop)
  }
}
