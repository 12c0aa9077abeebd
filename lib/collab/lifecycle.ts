// THE lifecycle of one loaded document: when it is live, when it stores, when
// it unloads, when it steps down, and what it leaves behind (nothing). One
// state machine, as a table of event × state → next state, read top to
// bottom below; every effect on the world goes through LifecycleHost, which
// the document implements, so the table can be driven without a socket.
//
// The document's state:
//
//   event \ state    loading          live                 unloading              closing   deposed*
//   loaded           → live           ·                    ·                      ·         leave → unloaded
//   loadFailed       finalize         ·                    ·                      ·         finalize
//                    → unloaded                                                             → unloaded
//   change           ·  (the load's)  dirty; debounce      dirty (store deferred) dirty     ·
//                                     if the schedule is
//                                     quiet
//   idle             ·                store now if dirty,  ·                      ·         ·
//                                     else ask to unload
//                                     → unloading
//   unloadAnswered   ·                ·                    agreed, idle, stored:  ·         ·
//                                                          finalize, afterUnload
//                                                          → unloaded; else
//                                                          → live (store, or ask
//                                                          again)
//   depose           → deposed*       leave → unloaded     leave → unloaded       ·         ·
//   shutdown         (after the load) → closing: the running store or unload ends, the last store,
//                                     finalize, afterUnload (awaited) → unloaded
//
//   * deposed while loading: the load decides nothing any more; the document leaves when it ends.
//   unloaded is terminal: every event is ignored. "leave" resets every socket session (4205: the
//   client reconnects and resyncs from the store), finalizes and runs afterUnload, without storing.
//
// The store schedule runs beside it (a store runs while live: edits keep coming meanwhile). `dirty`
// (changed since the last store began) can be true in every phase.
//
//   phase \ event  change (live)       timer due                       store ended
//   quiet          → debouncing        ·                               ·
//   debouncing     (the due time       moved: → debouncing;            ·
//                  moves, up to        else → running
//                  maxDebounce)
//   running        ·                   ·                               ok: → quiet, then debouncing
//                                                                      if dirty and in use, else idle;
//                                                                      failed: → backoff (retry delay
//                                                                      doubles, at most 30 s)
//   backoff        ·                   → running                       ·
//
// "idle" is the moment nothing keeps the document: no attachment, no hold (an acquirer that has not
// attached yet). A store runs at once when the document becomes idle dirty; the unload is asked only
// when nothing is left to store.

/** The states of a document (see the table above). */
export type LifecycleState = 'loading' | 'live' | 'unloading' | 'closing' | 'deposed' | 'unloaded'

type StorePhase = 'quiet' | 'debouncing' | 'running' | 'backoff'

/** What the lifecycle does to the world, through the document. */
export interface LifecycleHost {
  /** Connections attached now (socket sessions, direct connections). The lifecycle counts its own holds. */
  readonly attachments: number
  /** Whether any store hook is registered: without one, changes never schedule a store. */
  readonly stores: boolean
  /** Runs onStoreDocument, then afterStoreDocument. @returns false when either failed (the hook runner logged it). */
  store: () => Promise<boolean>
  /** Runs beforeUnloadDocument. @returns false when a hook vetoed the unload. */
  mayUnload: () => Promise<boolean>
  /** Takes the document out of the documents map and destroys it; with `scaleOut`, its lease goes back. */
  finalize: () => void
  /** Closes every socket session with 4205: each client reconnects and resyncs from the store. */
  resetReceivers: () => void
  /** Runs afterUnloadDocument. @returns the chain, which the lifecycle awaits only at shutdown. */
  afterUnload: () => Promise<void>
}

/** The store schedule's timings, in ms (the collab options `debounce`, `maxDebounce`, `storeRetryDelay`). */
export interface StoreTiming {
  readonly debounce: number
  readonly maxDebounce: number
  readonly storeRetryDelay: number
}

const MAX_RETRY_DELAY = 30_000

type Event = 'loaded' | 'loadFailed' | 'change' | 'idle' | 'unloadAnswered' | 'depose' | 'shutdown'

/** One row: the effects of an event in a state, and the next state (undefined: the same). */
type Row = (lifecycle: DocumentLifecycle, argument: boolean) => LifecycleState | undefined

const TABLE: { readonly [S in LifecycleState]: { readonly [E in Event]?: Row } } = {
  loading: {
    loaded: () => 'live',
    loadFailed: (lc) => lc.finalize(),
    depose: () => 'deposed',
    // Changes made while loading are the stored state, not news: nothing to store.
    change: () => undefined
  },
  live: {
    change: (lc) => lc.markChanged(true),
    idle: (lc) => lc.whenIdle(),
    depose: (lc) => lc.leave(),
    shutdown: () => 'closing'
  },
  unloading: {
    // Remote sources and server-side edits may still change it; the store waits for the hook's answer.
    change: (lc) => lc.markChanged(false),
    unloadAnswered: (lc, agreed) => lc.unloadAnswered(agreed),
    depose: (lc) => lc.leave(),
    shutdown: () => 'closing'
  },
  closing: {
    // Changes are refused now, but a server-side edit outside transactAs still dirties the document.
    change: (lc) => lc.markChanged(false)
  },
  deposed: {
    loaded: (lc) => lc.leave(),
    loadFailed: (lc) => lc.finalize()
  },
  unloaded: {}
}

/**
 * The lifecycle of one loaded document (see the table at the top of this file). The document calls the
 * event methods; the lifecycle calls back through its {@link LifecycleHost}.
 */
export class DocumentLifecycle {
  #state: LifecycleState = 'loading'
  // Acquired but not yet attached: such a document must not unload.
  #holds = 0
  #phase: StorePhase = 'quiet'
  #timer: NodeJS.Timeout | null = null
  #failures = 0
  #dirty = false
  #firstChangeAt = 0
  #lastChangeAt = 0
  #storing: Promise<void> | null = null
  #unloading: Promise<void> | null = null

  constructor (private readonly host: LifecycleHost, private readonly timing: StoreTiming) {}

  get state (): LifecycleState {
    return this.#state
  }

  /** Live or unloading: the document accepts changes. */
  get accepting (): boolean {
    return this.#state === 'live' || this.#state === 'unloading'
  }

  #on (event: Event, argument = false): void {
    const row = TABLE[this.#state][event]
    if (row === undefined) return
    const next = row(this, argument)
    if (next !== undefined) this.#state = next
  }

  // --- events ---------------------------------------------------------------

  /** The load succeeded. */
  loaded (): void {
    this.#on('loaded')
  }

  /** The load failed: nothing is left behind. */
  loadFailed (): void {
    this.#on('loadFailed')
  }

  /** An update was applied. */
  changed (): void {
    this.#on('change')
  }

  /** An acquirer will attach or release: the document stays loaded meanwhile. */
  hold (): void {
    this.#holds++
  }

  /** A hold became an attachment (the host counts attachments). */
  attached (): void {
    this.#holds--
  }

  /** A hold that never attached (its socket closed while it waited). */
  released (): void {
    this.#holds--
    this.#idleCheck()
  }

  /** An attachment left. */
  detached (): void {
    this.#idleCheck()
  }

  /**
   * The document steps down (see "leave" above).
   * @returns whether it did: false once it is closing or unloaded, or stepping down already.
   */
  depose (): boolean {
    const before = this.#state
    this.#on('depose')
    return this.#state !== before
  }

  /**
   * For `fastify.close()`: from now on changes are refused. Waits for the running store or
   * beforeUnloadDocument, stores once more while anything changed (a failure is logged by the runner;
   * there is no later), then unloads without asking beforeUnloadDocument, and awaits afterUnloadDocument.
   * A document still loading is awaited through `ready` by the caller first.
   */
  async shutdown (): Promise<void> {
    if (this.#state !== 'live' && this.#state !== 'unloading') return
    this.#on('shutdown')
    this.#stopTimer()
    await this.settled()
    while (this.#dirty) {
      this.#dirty = false
      if (!await this.host.store()) break
    }
    this.finalize()
    await this.host.afterUnload().catch(() => {})
  }

  /** Resolves when the store or unload running now has ended (a retry that follows is not awaited). */
  async settled (): Promise<void> {
    await this.#storing
    await this.#unloading
  }

  // --- effects (the table's rows call these) -------------------------------------

  /** dirty; with `schedule`, → debouncing when the schedule is quiet. */
  markChanged (schedule: boolean): undefined {
    if (!this.host.stores) return
    const now = Date.now()
    this.#lastChangeAt = now
    if (!this.#dirty) {
      this.#dirty = true
      this.#firstChangeAt = now
    }
    // One timer per dirty document; it re-arms itself rather than being reset per change.
    if (schedule && this.#phase === 'quiet') this.#debounce()
    return undefined
  }

  /** Idle and live: store what changed at once, or ask to unload. */
  whenIdle (): LifecycleState | undefined {
    // A running store calls back when it ends; a failed one retries first.
    if (this.#phase === 'running' || this.#phase === 'backoff') return
    if (this.#dirty) {
      this.#stopTimer()
      this.#storeNow()
      return
    }
    this.#unloading = this.host.mayUnload().then(
      (agreed) => this.#answered(agreed),
      () => this.#answered(false))
    return 'unloading'
  }

  #answered (agreed: boolean): void {
    this.#unloading = null
    this.#on('unloadAnswered', agreed)
  }

  /** beforeUnloadDocument answered: unload when it agreed and the document is still idle and stored. */
  unloadAnswered (agreed: boolean): LifecycleState | undefined {
    if (agreed && this.#isIdle() && this.#phase === 'quiet' && !this.#dirty) {
      this.finalize()
      this.host.afterUnload().catch(() => {})
      return 'unloaded'
    }
    this.#state = 'live'
    // A change that came in while the hook ran has a deferred store: schedule it (idle: at once).
    if (this.#dirty) this.#debounce()
    // After a veto with nothing to store, nothing asks again until the document next becomes idle.
    if ((this.#dirty || agreed) && this.#isIdle()) return this.whenIdle()
    return 'live'
  }

  /** Reset every socket session, finalize and run afterUnload, without storing. */
  leave (): LifecycleState {
    this.host.resetReceivers()
    this.finalize()
    this.host.afterUnload().catch(() => {})
    return 'unloaded'
  }

  /** → unloaded: no timer, and the host forgets the document. */
  finalize (): LifecycleState {
    this.#state = 'unloaded'
    this.#stopTimer()
    this.host.finalize()
    return 'unloaded'
  }

  // --- the store schedule ----------------------------------------------------------

  #isIdle (): boolean {
    return this.host.attachments === 0 && this.#holds === 0
  }

  #idleCheck (): void {
    if (this.#isIdle()) this.#on('idle')
  }

  /** → debouncing: due `debounce` ms after the last change and at most `maxDebounce` ms after the first. */
  #debounce (): void {
    this.#clearTimer()
    this.#phase = 'debouncing'
    this.#timer = setTimeout(this.#onDebounced, Math.max(0, this.#dueAt() - Date.now()))
  }

  #dueAt (): number {
    return Math.min(this.#lastChangeAt + this.timing.debounce, this.#firstChangeAt + this.timing.maxDebounce)
  }

  readonly #onDebounced = (): void => {
    this.#timer = null
    // Edits since the timer was armed moved the due time (but never past maxDebounce).
    if (this.#dueAt() > Date.now()) return this.#debounce()
    this.#phase = 'quiet'
    this.#storeNow()
  }

  readonly #onBackoff = (): void => {
    this.#timer = null
    this.#phase = 'quiet'
    this.#storeNow()
  }

  /** → running, unless one runs already (it is followed up when it ends) or the document is not live. */
  #storeNow (): void {
    if (this.#phase === 'running' || this.#state !== 'live') return
    // The phase is set before any hook runs: a hook that edits the document must see `running`.
    this.#phase = 'running'
    this.#storing = Promise.resolve().then(() => this.#storeOnce())
  }

  async #storeOnce (): Promise<void> {
    // Deposed after this store was queued (both in one turn, as when an owner wakes from a pause with its
    // store due and its lease gone): the load's writes are over, and its afterUnloadDocument has run.
    if (this.#state === 'unloaded') return
    const since = this.#firstChangeAt
    this.#dirty = false
    const ok = await this.host.store()
    this.#phase = 'quiet'
    this.#storing = null
    if (!ok) {
      // Keep the document and its changes; try again later (or at shutdown).
      if (!this.#dirty) this.#firstChangeAt = since
      this.#dirty = true
    }
    // shutdown() awaits this store, then makes the last one itself.
    if (this.#state !== 'live') return
    if (!ok) {
      const delay = Math.min(this.timing.storeRetryDelay * 2 ** this.#failures, MAX_RETRY_DELAY)
      this.#failures++
      this.#phase = 'backoff'
      this.#timer = setTimeout(this.#onBackoff, delay)
      return
    }
    this.#failures = 0
    if (this.#dirty && !this.#isIdle()) return this.#debounce()
    this.#idleCheck()
  }

  #clearTimer (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Leaves debouncing or backoff for quiet (a running store is left alone). */
  #stopTimer (): void {
    this.#clearTimer()
    if (this.#phase !== 'running') this.#phase = 'quiet'
  }
}
