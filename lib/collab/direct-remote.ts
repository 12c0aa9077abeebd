// A direct connection on an instance that does not own its document (scale-out): a client of the owner,
// as a Hocuspocus provider is. The owner serves it as an ordinary proxied Hocuspocus session, opened
// through the one session-open path (CollabHost.openSession, reached through the Router's proxy), so its
// hooks, bounds, fencing and acknowledgements are a client's. Here, a stand-in for a socket (DirectWire)
// speaks the provider's side of the protocol with the codecs of protocol/, against a replica of the
// document:
//
//   owner → here   Authenticated        → our SyncStep1 (the replica's state vector)
//                  SyncStep1            → our SyncStep2: what the owner lacks (the repair after a move)
//                  SyncStep2, Update    → applied to the replica; the first SyncStep2 opens the connection
//                  SyncStatus           → answers our oldest unanswered SyncStep2 or Update (in order)
//   here → owner   every change made to the replica here, as an Update; changes made while no session
//                  is attached wait in the replica for the next SyncStep2
//
// A SyncStatus 1 is sent after the owner's onChange chain, so after the store's fenced append: it is the
// acknowledgement `transact` waits for. When the session is lost (the owner died, stepped down, or handed
// the document over: a 4205 or a 1012), the wire is dropped and a new one reaches whoever serves the
// document now, maybe this instance; the changes still unanswered are carried by the new session's
// SyncStep2, and its SyncStatus answers them. So a transact resolves only once an owner stored its change,
// and never twice applies it.

import { randomUUID } from 'node:crypto'
import { serialize } from 'node:v8'
import type { FastifyBaseLogger } from 'fastify'
import * as Y from 'yjs'
import { CloseCode, type CloseCodeValue } from '../close-codes.js'
import { publishLimit } from '../diagnostics.js'
import { FST_COLLAB_CLOSED, FST_COLLAB_DIRECT_REFUSED, FST_COLLAB_FORBIDDEN, FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import type { CollabLimitName } from '../names.js'
import { noop } from '../noop.js'
import type { AttachedSession, DocumentMessage, SessionInit, SessionSocket } from './contracts.js'
import { decodeOutcome } from './owner-tasks.js'
import { hocuspocusCodec } from './protocol/codec.js'
import { decodeHocuspocusServerFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate, type HocuspocusServerMessage } from './protocol/hocuspocus.js'
import type { Collab, DirectConnection, HookContext, RemoteRequest } from './types.js'

/** What a remote direct connection needs of the collab core. */
export interface RemoteDirectHost {
  readonly instance: Collab
  readonly log: FastifyBaseLogger
  /** Set once `fastify.close()` began: a lost session is not followed any more. */
  readonly closing: boolean
  /** Opens a session on the document where it is served now (see `ConnectionHost.reach`). */
  reach: (socket: SessionSocket, init: SessionInit) => Promise<AttachedSession | null>
  /** Runs an owner task here (see `CollabHost.runTask`). */
  runTask: (documentName: string, name: string, args: Uint8Array) => Promise<Uint8Array>
  /** The remote direct connections open on this instance: `fastify.close()` ends them. */
  readonly directs: Set<RemoteDirect>
}

interface Waiter {
  resolve: () => void
  reject: (error: Error) => void
}

// Sessions that end before their first SyncStep2, and placements that fail, in a row, before the
// connection gives up: the first retry waits RETRY_DELAY ms, each next one twice as long, up to
// MAX_RETRY_DELAY (7.1 s of waiting in all, about as long as a paused owner's lease takes to lapse and
// its documents to be claimed again with the default timings).
const MAX_FAILURES = 8
const RETRY_DELAY = 100
const MAX_RETRY_DELAY = 2000

/**
 * The stand-in for a socket of one session of a remote direct connection: what the owner's session (or,
 * after a move here, the local one) sends reaches the connection through it, in order and in a later
 * microtask, as a socket's frames would; once dropped, nothing more does.
 */
class DirectWire implements SessionSocket {
  session: AttachedSession | null = null
  dropped = false
  /** The owner's SyncStep2 came on this wire. */
  synced = false
  // Frames for the session while it is not attached yet or paused, in order.
  #held: Array<{ message: DocumentMessage, frame: Uint8Array }> = []
  #pauses = 0
  #inbox: Array<{ frame: Uint8Array, onWritten: (() => void) | undefined }> = []
  #warned: Set<CollabLimitName> | null = null

  constructor (private readonly direct: RemoteDirect) {}

  get request (): RemoteRequest {
    return this.direct.request
  }

  get socketId (): string {
    return this.direct.request.id
  }

  /** A frame from the owner. */
  send (frame: Uint8Array, onWritten?: () => void): void {
    if (this.dropped) return
    this.#inbox.push({ frame, onWritten })
    if (this.#inbox.length === 1) queueMicrotask(this.#drain)
  }

  readonly #drain = (): void => {
    const inbox = this.#inbox
    this.#inbox = []
    for (const { frame, onWritten } of inbox) {
      if (this.dropped) return
      this.direct.receive(this, frame)
      onWritten?.()
    }
  }

  /** Sends a frame of ours to the session: held while it is not attached, or paused (the owner's beforeHandleMessage runs, or its link is full). */
  write (message: DocumentMessage, frame: Uint8Array): void {
    if (this.session === null || this.#pauses > 0) {
      this.#held.push({ message, frame })
      return
    }
    this.session.receive(message, frame)
  }

  attach (session: AttachedSession): void {
    this.session = session
    if (this.dropped) session.leave()
    else this.#release()
  }

  #release (): void {
    const held = this.#held
    this.#held = []
    for (const { message, frame } of held) {
      if (this.dropped) return
      this.write(message, frame)
    }
  }

  fail (code: CloseCodeValue, reason: string): void {
    this.direct.lost(this, code, reason)
  }

  close (code: CloseCodeValue, reason: string): void {
    this.direct.lost(this, code, reason)
  }

  endSession (): void {
    this.direct.lost(this, CloseCode.NORMAL, 'the owner closed the document')
  }

  pause (): void {
    this.#pauses++
  }

  resume (): void {
    if (--this.#pauses === 0) this.#release()
  }

  limitReached (limit: CollabLimitName, details?: object): void {
    this.#warned ??= new Set()
    if (this.#warned.has(limit)) return
    this.#warned.add(limit)
    this.request.log.warn({ limit, ...details }, `collab limit reached: ${limit}`)
  }

  refused (limit: CollabLimitName): void {
    publishLimit(this.direct.host.instance, limit)
  }

  /** No more frames either way; the session leaves (a proxied one tells the owner). */
  drop (): void {
    if (this.dropped) return
    this.dropped = true
    this.#held = []
    this.#inbox = []
    this.session?.leave()
  }
}

/** See the top of this file, and {@link DirectConnection}. */
export class RemoteDirect implements DirectConnection {
  readonly source = 'direct'
  readonly document = new Y.Doc()
  /** What the owner's hooks see as the session's request: a {@link RemoteRequest} with `direct: true`. */
  readonly request: RemoteRequest
  #wire: DirectWire | null = null
  // Changes made here that no frame on the current wire carries yet: its next SyncStep2 will.
  #unsent: Waiter[] = []
  // For each SyncStep2 or Update sent on the current wire and not answered yet, the waiters of the changes it carries, oldest first.
  #inFlight: Waiter[][] = []
  // The acknowledgements not settled yet, for disconnect().
  readonly #outstanding = new Set<Promise<void>>()
  // The transact running now, which takes the acknowledgement of the change it makes.
  #capture: ((acknowledged: Promise<void>) => void) | null = null
  #failures = 0
  #retry: NodeJS.Timeout | null = null
  #opened: { resolve: () => void, reject: (error: Error) => void } | null = null
  #disconnecting = false
  #ended: Error | null = null

  private constructor (readonly host: RemoteDirectHost, readonly documentName: string, readonly context: HookContext) {
    const id = `direct-${randomUUID()}`
    let log: FastifyBaseLogger | null = null
    this.request = {
      remote: true,
      direct: true,
      instanceId: host.instance.instanceId,
      id,
      method: '',
      url: '',
      hostname: '',
      ip: '',
      headers: {},
      query: {},
      params: {},
      get log () {
        log ??= host.log.child({ reqId: id })
        return log
      }
    }
    this.document.on('update', this.#onUpdate)
  }

  /**
   * Opens a direct connection through the document's owner: resolves once the owner's SyncStep2 is in the
   * replica.
   * @rejects like {@link RemoteDirect} ends: FST_COLLAB_SCALE_OUT_UNAVAILABLE or the load's error when the
   *   document could not be reached (after retries), FST_COLLAB_CLOSED when `fastify.close()` began.
   */
  static async open (host: RemoteDirectHost, documentName: string, context: HookContext): Promise<RemoteDirect> {
    const direct = new RemoteDirect(host, documentName, context)
    host.directs.add(direct)
    await new Promise<void>((resolve, reject) => {
      direct.#opened = { resolve, reject }
      direct.#connect()
    })
    return direct
  }

  // --- sessions ---------------------------------------------------------------

  #connect (): void {
    this.#retry = null
    const wire = new DirectWire(this)
    this.#wire = wire
    this.host.reach(wire, {
      documentName: this.documentName,
      address: this.documentName,
      codec: hocuspocusCodec,
      readOnly: false,
      context: this.context,
      request: this.request,
      cancelled: () => wire !== this.#wire,
      attached: (session) => wire.attach(session)
    // It resolves null only when this wire was given up meanwhile (the connection moved on, or ended).
    }).then(noop, (error: Error) => this.#failed(wire, error))
  }

  /** A session ended before its SyncStep2, or none could be opened: try again later, or give up. */
  #failed (wire: DirectWire, error: Error): void {
    if (wire !== this.#wire) return
    wire.drop()
    this.#wire = null
    if (this.host.closing || ++this.#failures >= MAX_FAILURES) return this.#end(error)
    this.#retry = setTimeout(() => this.#connect(), Math.min(RETRY_DELAY * 2 ** (this.#failures - 1), MAX_RETRY_DELAY))
    this.#retry.unref()
  }

  /**
   * The wire's session ended (its socket was "closed"): follow the document to whoever serves it now,
   * unless the owner refused this connection (4403: its beforeHandleMessage) or closed the document for it.
   */
  lost (wire: DirectWire, code: CloseCodeValue, reason: string): void {
    if (wire !== this.#wire) return
    // What is still unanswered goes with the next session's SyncStep2, and waits for its SyncStatus.
    this.#unsent.unshift(...this.#inFlight.flat())
    this.#inFlight = []
    if (code === CloseCode.FORBIDDEN || code === CloseCode.NORMAL) {
      return this.#end(new FST_COLLAB_FORBIDDEN(`the owner of "${this.documentName}" ended the direct connection's session: ${reason}`))
    }
    if (!wire.synced) return this.#failed(wire, new FST_COLLAB_SCALE_OUT_UNAVAILABLE(this.documentName, { cause: new Error(reason) }))
    wire.drop()
    this.#wire = null
    this.#connect()
  }

  /** A frame from the owner, on `wire`. One that cannot be read or applied resets the session, as a provider's would be. */
  receive (wire: DirectWire, frame: Uint8Array): void {
    try {
      this.#handle(wire, decodeHocuspocusServerFrame(frame))
    } catch (error) {
      this.request.log.warn({ err: error }, 'collab direct connection: a frame from the owner could not be handled')
      this.lost(wire, CloseCode.RESET_CONNECTION, 'a frame from the owner could not be handled')
    }
  }

  #handle (wire: DirectWire, message: HocuspocusServerMessage): void {
    switch (message.type) {
      case 'authenticated': {
        const stateVector = Y.encodeStateVector(this.document)
        return wire.write({ type: 'sync-step-1', stateVector }, encodeSyncStep1(this.documentName, stateVector))
      }
      case 'sync-step-1': {
        const update = Y.encodeStateAsUpdate(this.document, message.stateVector)
        // Counted before it is written: a session lost while it is written gives it back to #unsent.
        this.#inFlight.push(this.#unsent)
        this.#unsent = []
        return wire.write({ type: 'sync-step-2', update }, encodeSyncStep2(this.documentName, update))
      }
      case 'sync-step-2':
        Y.applyUpdate(this.document, message.update, wire)
        if (!wire.synced) this.#synced(wire)
        return
      case 'update':
        Y.applyUpdate(this.document, message.update, wire)
        return
      case 'sync-status': {
        const waiters = this.#inFlight.shift() ?? []
        const refused = message.applied ? null : new FST_COLLAB_DIRECT_REFUSED(this.documentName)
        for (const waiter of waiters) {
          if (refused === null) waiter.resolve()
          else waiter.reject(refused)
        }
        return
      }
      case 'permission-denied':
        return this.#end(new FST_COLLAB_FORBIDDEN(message.reason))
      // Awareness, Stateless, pings: nothing for server-side code.
    }
  }

  #synced (wire: DirectWire): void {
    wire.synced = true
    this.#failures = 0
    this.#opened?.resolve()
    this.#opened = null
  }

  // --- changes ----------------------------------------------------------------

  // Every change made to the replica here (by transact or not) goes to the owner, as a provider sends it.
  readonly #onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin instanceof DirectWire) return
    const acknowledged = this.#send(update)
    this.#outstanding.add(acknowledged)
    acknowledged.catch(noop).finally(() => this.#outstanding.delete(acknowledged)).catch(noop)
    this.#capture?.(acknowledged)
  }

  #send (update: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#ended !== null) return reject(this.#ended)
      const waiter = { resolve, reject }
      const wire = this.#wire
      if (wire === null || wire.session === null) {
        this.#unsent.push(waiter)
        return
      }
      this.#inFlight.push([waiter])
      wire.write({ type: 'update', update }, encodeUpdate(this.documentName, update))
    })
  }

  async transact (fn: (document: Y.Doc) => void): Promise<void> {
    if (this.#ended !== null) throw this.#ended
    if (this.#disconnecting) throw new FST_COLLAB_CLOSED()
    let acknowledged: Promise<void> | undefined
    this.#capture = (promise) => { acknowledged = promise }
    try {
      // What `fn` changed before it threw is sent all the same, as on the owner.
      this.document.transact(() => fn(this.document), this)
    } finally {
      this.#capture = null
    }
    await acknowledged
  }

  /**
   * Runs an owner task (see owner-tasks.ts) where the document is served: on the owner, through this
   * connection's session, or here when this instance serves it now.
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when no session is open now, or it ended before the owner
   *   answered (the task may have run); the task's error, rebuilt (see decodeOutcome).
   */
  async run (name: string, args: unknown): Promise<unknown> {
    if (this.#ended !== null) throw this.#ended
    const session = this.#wire?.synced === true ? this.#wire.session : null
    if (session === null) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(this.documentName, { cause: new Error('the direct connection is between two owners') })
    const encoded = serialize(args)
    const outcome = session.call === undefined
      ? await this.host.runTask(this.documentName, name, encoded)
      : await session.call(name, encoded)
    return decodeOutcome(this.documentName, outcome)
  }

  // --- the end ----------------------------------------------------------------

  /** Waits for the changes sent so far to be answered, then ends the session on the owner. */
  async disconnect (): Promise<void> {
    if (this.#ended !== null || this.#disconnecting) return
    this.#disconnecting = true
    await Promise.allSettled([...this.#outstanding])
    this.#end(new FST_COLLAB_CLOSED())
  }

  /** Ends the connection at once (`fastify.close()`): what is unanswered rejects with FST_COLLAB_CLOSED. */
  close (): void {
    this.#end(new FST_COLLAB_CLOSED())
  }

  #end (error: Error): void {
    if (this.#ended !== null) return
    this.#ended = error
    if (this.#retry !== null) clearTimeout(this.#retry)
    this.#retry = null
    this.#wire?.drop()
    this.#wire = null
    for (const waiter of [...this.#inFlight.flat(), ...this.#unsent]) waiter.reject(error)
    this.#inFlight = []
    this.#unsent = []
    this.#opened?.reject(error)
    this.#opened = null
    this.host.directs.delete(this)
  }
}
