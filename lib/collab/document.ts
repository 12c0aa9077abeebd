import * as Y from 'yjs'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import type { FastifyBaseLogger } from 'fastify'
import type { HookRunner, LoadPayload } from './hooks.js'
import type { ResolvedCollabOptions } from './options.js'
import type { Attachment, Collab, CollabDocument, CollabOrigin, HookContext } from './types.js'
import type { Receiver, Router, Tenure } from './contracts.js'
import type { Backlog, Resyncable } from './backlog.js'
import type { Counts } from './counts.js'
import { DocumentAwareness } from './awareness.js'
import { Outbox, sendToAll } from './broadcast.js'
import { mergeInBatches } from './protocol/merge.js'
import { TurnIntake, type Answer, type QueuedUpdate, type TurnWriter } from './turn.js'
import { checkUpdate } from './update-check.js'
import { SyncAnswers } from './sync-answers.js'
import { DocumentLifecycle, type LifecycleHost } from './lifecycle.js'
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

// The shortest time in ms between two exact measurements of a document's size (maxDocumentBytes).
const MEASURE_INTERVAL = 1000

// The most updates one transaction takes (applyTurn). Yjs merges a transaction's new items with their
// neighbours only when it ends, so a transaction of thousands of small updates (a provider catching up)
// keeps splitting and walking unmerged items: the trace replay of bench/README.md ran at 62k updates/s
// with whole turns in one transaction, 95k, 98k and 91k with at most 64, 128 and 256.
const MAX_TRANSACTION_UPDATES = 128

/** What the transactions of one turn share: the sessions refused so far, and whether the document took no more (backlog bound, closed). */
interface TurnState {
  refused: Set<TurnWriter> | null
  stopped: boolean
}

/** One session's consecutive updates in a transaction (see applyTurn). */
interface TurnRun {
  readonly writer: TurnWriter
  readonly updates: Uint8Array[]
}

/** Gives `queued` from `start` up to `end` back to their sessions, in order (TurnWriter.takeBack). */
function takeBackAll (queued: readonly QueuedUpdate[], start: number, end: number): void {
  for (let i = start; i < end; i++) queued[i].writer.takeBack(queued[i].update, queued[i].answer)
}

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
 * One loaded document (see {@link CollabDocument}): a Y.Doc with its awareness, its connections, the
 * dispatch of its changes (broadcast, onChange) and the per-document bounds. When it stores, unloads or
 * steps down is its {@link DocumentLifecycle}'s to decide (lifecycle.ts), which acts on the world only
 * through {@link LoadedDocument.lifecycleHost}.
 */
export class LoadedDocument extends Y.Doc implements CollabDocument {
  readonly name: string
  readonly awareness: Awareness
  readonly connections = new Set<Attachment>()
  readonly ready: Promise<void>
  /** With `scaleOut`, the fencing epoch the store issued to this load's claim; null on one instance. */
  readonly epoch: number | null
  /** SyncStep2 answers, encoded once per state vector while the document does not change. */
  readonly syncAnswers = new SyncAnswers(this)
  /** The Update frames synced sessions send, applied together once per event-loop turn (turn.ts). */
  readonly intake: TurnIntake
  // With `scaleOut`, how long this instance surely holds the document's lease; null on one instance.
  private readonly tenure: Tenure | null
  private readonly lifecycle: DocumentLifecycle
  private readonly outbox: Outbox
  private changeResult: Promise<void> | undefined
  // While applyTurn's transaction runs: the runs of one session's consecutive updates it applied, which
  // handleUpdate gives to onChange one by one.
  private turnRuns: TurnRun[] | null = null
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
    this.lifecycle = new DocumentLifecycle(this.lifecycleHost(), host.options)
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
      this.resetReceivers()
    })
    this.intake = new TurnIntake(queued => this.applyTurn(queued), error => {
      this.host.log.error({ err: error, documentName: this.name }, 'collab: applying a turn\'s updates failed')
      // Their answers may never come: make the clients reconnect and resync (4205).
      this.resetReceivers()
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
    return this.lifecycle.accepting
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
    if (this.lifecycle.state === 'loading') throw new FST_COLLAB_LOADING(this.name)
    if (!this.canServe()) throw new FST_COLLAB_CLOSED()
  }

  /** Connections attached (socket sessions and direct connections). */
  getConnectionsCount (): number {
    return this.connections.size
  }

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
      this.lifecycle.loadFailed()
      throw error
    }
    this.lifecycle.loaded()
  }

  // --- connections ----------------------------------------------------------

  /** Counts an acquirer that will attach or release; keeps the document from unloading meanwhile. */
  hold (): void {
    this.lifecycle.hold()
  }

  /** Turns a hold into an attachment. */
  attach (attachment: Attachment): void {
    this.connections.add(attachment)
    this.lifecycle.attached()
  }

  /** Drops a hold that never attached (the socket closed during auth). */
  release (): void {
    this.lifecycle.released()
  }

  /**
   * Detaches a connection, removes for everyone the awareness states it last
   * set (see {@link awarenessClientsOf}), runs onDisconnect, and stores and
   * unloads when it was the last one.
   */
  detach (attachment: Attachment): void {
    if (!this.connections.has(attachment)) return
    // What the session sent before it left is applied now: its leaving may unload the document before the turn ends.
    this.intake.flush()
    this.connections.delete(attachment)
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
    this.lifecycle.detached()
  }

  /** The awareness client IDs whose latest state came from `attachment` (see DocumentAwareness). */
  awarenessClientsOf (attachment: Attachment): number[] {
    return this.shared.clientsOf(attachment)
  }

  private receivers (): Receiver[] {
    return this.lifecycle.state === 'unloaded' ? [] : [...this.connections].filter(isReceiver)
  }

  // --- changes --------------------------------------------------------------

  /** See {@link CollabDocument.applyUpdate}: every refusal comes before the update touches the document. */
  applyUpdate (update: Uint8Array, origin: CollabOrigin | null): Promise<void> | undefined {
    const changed = this.transactAs(() => {
      this.admit(update, 0)
      Y.applyUpdate(this, update, origin)
    }, origin) ?? this.lastWrite
    this.assertNothingPending()
    return changed
  }

  /**
   * Applies the Update frames synced sessions sent during one event-loop turn (turn.ts), in their order of
   * arrival, in transactions of at most MAX_TRANSACTION_UPDATES, and answers each once its transaction's
   * onChange chain settles. onChange runs once per run of one session's consecutive updates in a
   * transaction, with that session's context, in order. An update refused, and every later one of its
   * session in the turn, goes back to the session (TurnWriter.takeBack), as does every update when the
   * document takes none now (closing, the store behind, the backlog bound reached during the turn).
   */
  private applyTurn (queued: readonly QueuedUpdate[]): void {
    const turn: TurnState = { refused: null, stopped: false }
    for (let start = 0; start < queued.length; start += MAX_TRANSACTION_UPDATES) {
      this.applyTransaction(queued, start, Math.min(queued.length, start + MAX_TRANSACTION_UPDATES), turn)
    }
  }

  /** One transaction of {@link applyTurn}: `queued` from `start` up to `end`. */
  private applyTransaction (queued: readonly QueuedUpdate[], start: number, end: number, turn: TurnState): void {
    // An earlier transaction of this turn reached the backlog bound, or found the document closed: each update goes its own way.
    if (turn.stopped) return takeBackAll(queued, start, end)
    const runs: TurnRun[] = []
    const answers: Answer[] = []
    const takenBack: QueuedUpdate[] = []
    // An update that brings nothing new may hold a change whose write is still running: its answer waits for it too.
    const previous = this.lastWrite
    let changed: Promise<void> | undefined
    this.turnRuns = runs
    try {
      changed = this.transactAs(() => {
        // The bytes this transaction adds, which the bounds must count before its 'update' event does.
        let adding = 0
        for (let i = start; i < end; i++) {
          const entry = queued[i]
          const { writer, update } = entry
          if (turn.stopped || turn.refused?.has(writer) === true) {
            takenBack.push(entry)
            continue
          }
          try {
            this.admit(update, adding)
            Y.applyUpdate(this, update)
          } catch (error) {
            if (error instanceof FST_COLLAB_STORE_BACKLOG) turn.stopped = true
            else (turn.refused ??= new Set()).add(writer)
            takenBack.push(entry)
            continue
          }
          adding += update.length
          const last = runs[runs.length - 1]
          if (last === undefined) {
            // The transaction's origin is the first applied update's session (observers of the Y.Doc see it).
            (this._transaction as Y.Transaction).origin = writer
            runs.push({ writer, updates: [update] })
          } else if (last.writer === writer) {
            last.updates.push(update)
          } else {
            runs.push({ writer, updates: [update] })
          }
          answers.push(entry.answer)
        }
      }, queued[start].writer)
      this.assertNothingPending()
    } catch {
      // The document takes no update now (FST_COLLAB_LOADING, FST_COLLAB_CLOSED, FST_COLLAB_STORE_BACKLOG),
      // or Yjs parked what checkUpdate let through: each update of the turn goes its own way, and is answered there.
      turn.stopped = true
      return takeBackAll(queued, start, end)
    } finally {
      this.turnRuns = null
    }
    if (previous !== undefined) changed = changed === undefined ? previous : Promise.all([previous, changed]).then(noop)
    const result = changed === undefined ? true : changed.then(() => true, () => false)
    for (const answer of answers) answer(result)
    for (const { writer, update, answer } of takenBack) writer.takeBack(update, answer)
  }

  /**
   * Refuses an update before it touches the document: the store backlog is past its bound, the update
   * cannot be integrated now, or it would pass maxDocumentBytes. `adding` is what the running transaction
   * added already, which the backlog and the size count only once it ends. Decoding first refuses a
   * truncated update whole (Yjs integrates the structs before it reads the delete set).
   *
   * @throws {FST_COLLAB_STORE_BACKLOG}, {FST_COLLAB_UPDATE_NOT_INTEGRABLE}, {FST_COLLAB_DOCUMENT_TOO_LARGE},
   *   or Yjs's decoding error.
   */
  private admit (update: Uint8Array, adding: number): void {
    if (adding > 0) this.assertBacklogRoom(adding)
    const { integrable, addsStructs } = checkUpdate(this, update)
    if (!integrable) throw new FST_COLLAB_UPDATE_NOT_INTEGRABLE(this.name)
    if (addsStructs && this.wouldPassSize(adding + update.length)) {
      publishLimit(this.host.instance, 'maxDocumentBytes')
      throw new FST_COLLAB_DOCUMENT_TOO_LARGE(this.name, this.host.options.limits.maxDocumentBytes)
    }
  }

  /**
   * checkUpdate mirrors Yjs; should they ever disagree, what Yjs parked is dropped rather than carried in
   * every later merge and snapshot.
   *
   * @throws {FST_COLLAB_UPDATE_NOT_INTEGRABLE} when the last transaction left pending structs.
   */
  private assertNothingPending (): void {
    const { store } = this
    if (store.pendingStructs === null && store.pendingDs === null) return
    this.host.log.error({ documentName: this.name }, 'collab: an update passed checkUpdate but left pending structs; they were dropped')
    store.pendingStructs = null
    store.pendingDs = null
    throw new FST_COLLAB_UPDATE_NOT_INTEGRABLE(this.name)
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
    this.assertBacklogRoom(0)
  }

  /** @throws {FST_COLLAB_STORE_BACKLOG} when the backlog, with `pending` bytes not counted yet, is past maxUnstoredBytes. */
  private assertBacklogRoom (pending: number): void {
    if (!this.host.backlog.isPast(pending)) return
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
    this.syncAnswers.clear()
    this.size += update.length
    this.measured = false
    // Changes made while loading are the stored state, not news.
    const { state } = this.lifecycle
    if (state === 'loading' || state === 'unloaded') return
    // Read once: an observer that edits the document in this transaction's cleanup makes a nested
    // transaction, whose update is its own.
    const runs = this.turnRuns
    this.turnRuns = null
    if (this.host.counts !== null) this.host.counts.updates += runs === null ? 1 : runs.reduce((sum, run) => sum + run.updates.length, 0)
    this.outbox.addUpdate(update, transaction.beforeState)
    this.lifecycle.changed()
    let result: Promise<void> | undefined
    if (runs === null || runs.length === 1) {
      result = this.runOnChange(update, (runs === null ? origin ?? null : runs[0].writer) as CollabOrigin | null)
    } else {
      // One turn brought several sessions' updates: each session's onChange sees its own, with its context.
      const results = runs.map(({ writer, updates }) => this.runOnChange(updates.length === 1 ? updates[0] : mergeInBatches(updates), writer))
      if (results[0] !== undefined) result = Promise.all(results).then(noop)
    }
    if (result === undefined) return
    // A nested transaction (an observer's edit) adds its write to the one whoever applied the update awaits.
    if (this.changeResult !== undefined) result = Promise.all([this.changeResult, result]).then(noop)
    const write = result
    // Whoever applied the update may await this; nobody else must see a rejection.
    write.catch(noop)
    this.lastWrite = write
    const settled = (): void => { if (this.lastWrite === write) this.lastWrite = undefined }
    write.then(settled, settled)
    this.changeResult = write
  }

  /**
   * Runs every onChange hook for `update`, made by `origin`, whatever another one throws: the store must
   * see each update. @returns their chain (it steps the document down when the store refused the write),
   * or undefined when no onChange hook exists.
   */
  private runOnChange (update: Uint8Array, origin: CollabOrigin | null): Promise<void> | undefined {
    const context = contextOf(origin)
    this.lastContext = context
    this.lastOrigin = origin
    const { hooks } = this.host
    if (!hooks.has('onChange')) return undefined
    const result = hooks.runAll('onChange', {
      instance: this.host.instance,
      documentName: this.name,
      document: this,
      update,
      origin,
      transactionOrigin: origin,
      context,
      request: (origin as { request?: LoadPayload['request'] } | null)?.request,
      socketId: (origin as { socketId?: string } | null)?.socketId,
      clientsCount: this.connections.size
    })
    result.catch(this.onWriteFailed)
    this.host.backlog.track(update.length, result)
    return result
  }

  private readonly handleAwareness = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }, origin: unknown): void => {
    if (this.lifecycle.state === 'unloaded') return
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

  // --- the lifecycle's host (see lifecycle.ts) --------------------------------------

  // Its own object: a Y.Doc has members of these names (`store`), and none of them is public.
  private lifecycleHost (): LifecycleHost {
    const document = this
    const { hooks, instance } = this.host
    return {
      get attachments () { return document.connections.size },
      get stores () { return hooks.has('onStoreDocument') || hooks.has('afterStoreDocument') },
      store: () => this.runStoreHooks(),
      mayUnload: async () => {
        try {
          await hooks.run('beforeUnloadDocument', { instance, documentName: this.name, document: this })
          return true
        } catch {
          return false
        }
      },
      finalize: () => this.finalize(),
      resetReceivers: () => this.resetReceivers(),
      afterUnload: () => hooks.run('afterUnloadDocument', { instance, documentName: this.name, document: this })
    }
  }

  /** onStoreDocument then afterStoreDocument. @returns whether both succeeded (failures are logged by the runner). */
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

  /**
   * Out of the map, destroyed, its lease back (scale-out). An app's 'destroy' listener (on the Y.Doc or
   * the awareness) that throws is logged: the document is gone all the same and nothing is left behind.
   */
  private finalize (): void {
    this.forget()
    for (const target of [this.awareness, this]) {
      try {
        target.destroy()
      } catch (error) {
        this.host.log.error({ err: error, documentName: this.name }, 'collab: a destroy listener threw while the document unloaded')
      }
    }
    if (this.epoch !== null) this.host.router?.unloaded(this.name, this.epoch)
  }

  /** Every socket session closes with 4205 (Reset Connection): its client reconnects and resyncs. */
  private resetReceivers (): void {
    for (const receiver of this.receivers()) receiver.reset()
  }

  // Out of the documents map (when this load is still the one there): a new connection loads it again.
  private forget (): void {
    if (this.host.documents.get(this.name) === this) this.host.documents.delete(this.name)
  }

  // --- stepping down and closing --------------------------------------------

  // A write the store refused: a newer claim fenced this load, or another writer shares its log. This
  // load must never acknowledge again.
  private readonly onWriteFailed = (error: unknown): void => {
    const refused = refusedWrite(error)
    if (refused !== null) this.stepDown(`the store refused a write (${refused.code})`)
  }

  // The document can no longer be served from this load. The scale-out's ownership ends (it calls depose
  // with this epoch); on one instance, or when ownership has moved on already, the document deposes itself.
  private stepDown (reason: string): void {
    if (this.epoch !== null) this.host.router?.lose(this.name, this.epoch, reason)
    this.depose(this.epoch, reason)
  }

  /**
   * Steps the load under `epoch` down: its sessions are reset, nothing more is stored (see lifecycle.ts,
   * "leave"); nothing happens when this load has another epoch, or has ended already. It leaves the
   * documents map at once, so that a new connection places and loads the document again.
   */
  depose (epoch: number | null, reason: string): void {
    if (epoch !== this.epoch || !this.lifecycle.depose()) return
    this.host.log.warn({ documentName: this.name, epoch }, `collab: stepping down: ${reason}`)
    this.forget()
  }

  /** Resolves when the store or unload running now has ended (a retry that follows is not awaited). */
  settle (): Promise<void> {
    return this.lifecycle.settled()
  }

  /** For `fastify.close()` (see DocumentLifecycle.shutdown); a document still loading is awaited first. */
  async shutdown (): Promise<void> {
    await this.ready.catch(noop)
    // What clients sent in this turn goes into the last store.
    this.intake.flush()
    await this.lifecycle.shutdown()
  }
}
