import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Socket } from 'node:net'
import type { WebSocket, RawData } from 'ws'
import { clientReason, CloseCode, type CloseCodeValue, closeReason, isUnavailable, refusalClose } from '../close-codes.js'
import { FST_COLLAB_BAD_FRAME, FST_COLLAB_FORBIDDEN, FST_COLLAB_NAME_TOO_LONG, FST_COLLAB_TOO_MANY_DOCUMENTS } from '../errors.js'
import { kCollabConnection } from '../symbols.js'
import type { ConnectionConfig, ConnectionPayload, HookRunner } from './hooks.js'
import type { Limits } from './limits.js'
import type { ResolvedCollabOptions } from './options.js'
import type { Collab, HookContext } from './types.js'
import type { AttachedSession, DocumentMessage, SessionInit, SessionSocket } from './contracts.js'
import type { Counts } from './counts.js'
import { type Codec, hocuspocusCodec, type WireProtocol, yWebsocketCodec } from './protocol/codec.js'
import { decodeHocuspocusFrame, encodeClose, encodePermissionDenied as hocuspocusDenied, parseAddress, PONG_FRAME } from './protocol/hocuspocus.js'
import { decodeYWebsocketFrame, encodePermissionDenied as yWebsocketDenied } from './protocol/y-websocket.js'
import { SmallMap } from './small-map.js'
import { noop } from '../noop.js'
import { type LimitName, publishLimit } from '../diagnostics.js'

/** What a connection needs from the collab instance (collab.ts builds it). */
export interface ConnectionHost {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly options: ResolvedCollabOptions
  readonly log: FastifyBaseLogger
  /** Whether a hook that runs after the handshake and sees the request is registered. */
  readonly keepsRequest: boolean
  /** The frame counts of the metrics; null when the app does not ask for metrics. */
  readonly counts: Counts | null
  /** Every collab socket not closed yet: `fastify.close()` closes them with 1012 once the documents are stored. */
  readonly sockets: Set<Connection>
  /**
   * Opens a session for `socket` (a client's socket here, or a direct connection's stand-in) on the
   * document, greeted and attached: here (see `CollabHost.openSession`), or, with `scaleOut`, on the
   * instance that owns it.
   * @returns the session; null when `init.cancelled()` once the document could be served.
   * @rejects with FST_COLLAB_CLOSED while closing, FST_COLLAB_SCALE_OUT_UNAVAILABLE when it cannot be
   *   placed now, or the load hook's error.
   */
  reach: (socket: SessionSocket, init: SessionInit) => Promise<AttachedSession | null>
  /**
   * With `scaleOut`, refuses a context that cannot cross instances.
   * @throws FST_COLLAB_CONTEXT_NOT_SERIALIZABLE
   */
  checkContext: (documentName: string, context: HookContext) => void
}

/** A document waiting for its authentication: the frames that came first, in order. */
class Pending {
  frames: Array<{ message: DocumentMessage, frame: Uint8Array }> = []
  authenticating = false
  cancelled = false
}

type Entry = AttachedSession | Pending

function toBytes (data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}

// Why a frame could not be decoded, for the log.
function decodeFailure (error: unknown): string {
  return error instanceof Error && error.message !== '' ? error.message : String(error)
}

/**
 * One socket. It detects the wire format from the first frame, queues what
 * arrives before authentication ends (bounded), and routes each frame to the
 * session of its document. y-websocket keeps its one session under the
 * address '' since its frames carry no name. The per-socket bounds live here
 * (the auth queue, maxDocumentsPerSocket, maxDocumentNameLength, maxAuthFailures).
 */
export class Connection implements SessionSocket {
  /**
   * The upgraded request, for the hooks. Dropped once a bound socket is
   * attached when no hook that runs after the handshake is registered:
   * nothing can see it then, and it is most of an idle connection's memory.
   */
  request: FastifyRequest | undefined
  readonly socketId: string
  private protocol: WireProtocol | null
  private closed = false
  private readonly entries = new SmallMap<string, Entry>()
  private queuedBytes = 0
  private queuedFrames = 0
  // Answers sent before any document was attached (Pong) or to a refused one
  // (PermissionDenied): they count against the auth queue bounds for good.
  private answeredBytes = 0
  private answeredFrames = 0
  private authFailures = 0
  // Authentications running and sessions waiting for beforeHandleMessage: reading pauses while any does.
  private pauses = 0
  // The bounds met so far without closing, each logged once.
  private warned: Set<keyof Limits> | null = null
  // Runs only while a document waits for its Auth frame: one per socket, then gone.
  private authTimer: NodeJS.Timeout | null = null
  // True from the first frame sent in a tick until the next tick writes them all.
  private corked = false

  constructor (
    private readonly core: ConnectionHost,
    private readonly socket: WebSocket,
    request: FastifyRequest,
    private readonly boundName: string | undefined,
    private readonly initialContext: HookContext
  ) {
    this.request = request
    this.socketId = request.id
    this.log = request.log
    this.protocol = core.options.protocol === 'auto' ? null : core.options.protocol
    const holder = socket as WebSocket & { [kCollabConnection]?: Connection }
    holder[kCollabConnection] = this
    core.sockets.add(this)
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    // An 'error' without a listener would crash the process. reply.upgrade()'s
    // sockets already have one; a second would only cost memory.
    if (socket.listenerCount('error') === 0) socket.on('error', onSocketError)
    // A handler may have paused the socket itself before handleConnection (early
    // frames no longer need it: the upgrade layer holds them until this listener).
    if (socket.isPaused) socket.resume()
  }

  /**
   * The request's own logger (Fastify's child, with `requestIdLogLabel` and the
   * app's `childLoggerFactory`), kept when the request itself is dropped: about
   * 250 bytes per socket, for log lines that name their request as the app's do.
   */
  readonly log: FastifyBaseLogger

  /** The wire format, once the first frame told it (or the `protocol` option forced it). */
  get wireProtocol (): WireProtocol | null {
    return this.protocol
  }

  get limits (): Limits {
    return this.core.options.limits
  }

  /**
   * Sends a frame. Frames sent in one tick leave in one write: the socket is
   * corked on the first and uncorked on the next tick, because a system call
   * per frame (each SyncStatus, each greeting) was a quarter of the CPU.
   * `onWritten` is ws's send callback: the frame has left the send queue.
   */
  send (frame: Uint8Array, onWritten?: () => void): void {
    if (this.socket.readyState !== 1) return
    const { counts } = this.core
    if (counts !== null && this.protocol !== null) counts.sent(this.protocol, frame)
    if (!this.corked) {
      this.corked = true
      tcpSocketOf(this.socket).cork()
      process.nextTick(uncork, this)
    }
    this.socket.send(frame, onWritten === undefined ? undefined : (error) => { if (error === undefined || error === null) onWritten() })
  }

  /** Stops reading the socket (ws `pause()`) until every pause has its resume. */
  pause (): void {
    if (this.pauses++ === 0) this.socket.pause()
  }

  resume (): void {
    if (--this.pauses === 0) this.socket.resume()
  }

  limitReached (limit: keyof Limits, details?: object): void {
    this.warned ??= new Set()
    if (this.warned.has(limit)) return
    this.warned.add(limit)
    this.log.warn({ limit, value: this.limits[limit], ...details }, `collab limit reached: ${limit}`)
  }

  /** Ends the cork that `send` began: what this tick queued is written at once. */
  uncork (): void {
    this.corked = false
    tcpSocketOf(this.socket).uncork()
  }

  /** A bound refused something (`fastify-collab:limit`). */
  refused (limit: LimitName): void {
    publishLimit(this.core.instance, limit)
  }

  /** A bound closes the socket. */
  private exceed (limit: LimitName, code: CloseCodeValue, reason: string): void {
    if (this.closed) return
    this.refused(limit)
    this.fail(code, reason)
  }

  fail (code: CloseCodeValue, reason: string, error?: unknown): void {
    if (this.closed) return
    this.log.warn({ err: error, code }, `collab connection closed: ${reason}`)
    this.close(code, reason)
  }

  /** Closes the socket; its sessions end in onClose. */
  close (code: CloseCodeValue, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.core.sockets.delete(this)
    // Reasons may carry names (a document, an instance id): never past the frame's limit.
    this.socket.close(code, closeReason(reason))
    this.detachAll()
  }

  endSession (session: AttachedSession): void {
    if (session.codec.protocol === 'y-websocket') return this.close(CloseCode.NORMAL, 'Normal Closure')
    this.send(encodeClose(session.address, 'server closed the document'))
    this.entries.delete(session.address)
    session.leave()
  }

  // --- incoming -------------------------------------------------------------

  onMessage (data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) return this.fail(CloseCode.UNSUPPORTED_DATA, 'Unsupported Data: binary frames only')
    const frame = toBytes(data)
    if (this.protocol === null) {
      // The rule: a y-websocket client always opens with SyncStep1, `00 00`;
      // a Hocuspocus provider opens with a length-prefixed, non-empty name.
      this.protocol = frame.length >= 2 && frame[0] === 0 && frame[1] === 0 ? 'y-websocket' : 'hocuspocus'
    }
    this.core.counts?.received(this.protocol, frame)
    try {
      if (this.protocol === 'y-websocket') this.onYWebsocketFrame(frame)
      else this.onHocuspocusFrame(frame)
    } catch (error) {
      this.fail(CloseCode.BAD_FRAME, 'Bad frame', new FST_COLLAB_BAD_FRAME(decodeFailure(error)))
    }
  }

  private onYWebsocketFrame (frame: Uint8Array): void {
    const message = decodeYWebsocketFrame(frame)
    const entry = this.entries.get('')
    if (entry !== undefined && !(entry instanceof Pending)) return entry.receive(message, frame)
    if (this.boundName === undefined || this.boundName === '') {
      return this.fail(CloseCode.BAD_FRAME, 'y-websocket needs a document name')
    }
    if (this.nameTooLong(this.boundName)) {
      this.refused('maxDocumentNameLength')
      return this.refuseYWebsocket(CloseCode.FORBIDDEN, 'Forbidden', new FST_COLLAB_NAME_TOO_LONG(this.limits.maxDocumentNameLength))
    }
    const pending = entry ?? this.addPending('')
    if (pending === undefined) return
    this.enqueue(pending, message, frame)
    if (!pending.authenticating && !this.closed) {
      pending.authenticating = true
      this.authenticate(pending, '', this.boundName, undefined, undefined, yWebsocketCodec).catch(noop)
    }
  }

  private onHocuspocusFrame (frame: Uint8Array): void {
    const message = decodeHocuspocusFrame(frame)
    if (message.type === 'ping') return this.answer(PONG_FRAME, !this.attached())
    if (message.type === 'pong') return
    const { address } = message
    // No document has the empty name; only its Auth gets an answer (PermissionDenied).
    if (address === '' && message.type !== 'auth') throw new RangeError('a frame for the empty document name')
    const entry = this.entries.get(address)
    if (entry !== undefined && !(entry instanceof Pending)) {
      // A repeated token on an authenticated document is ignored, as Hocuspocus 4.7 does.
      if (message.type === 'auth') return
      if (message.type === 'close') return this.endClientSession(entry)
      return entry.receive(message, frame)
    }
    if (message.type === 'close') {
      if (entry !== undefined) this.dropPending(address, entry)
      return
    }
    const { documentName } = parseAddress(address)
    const isAuth = message.type === 'auth'
    // Refused before any hook runs, whatever the frame: nothing is queued for it.
    // A bound route answers another document at once (issue: "frames for any
    // other document get PermissionDenied").
    if (this.boundName !== undefined && documentName !== this.boundName) {
      if (entry !== undefined) this.dropPending(address, entry)
      return this.refuseDocument(address, 'this route serves another document', isAuth)
    }
    if (this.nameTooLong(documentName)) {
      this.refused('maxDocumentNameLength')
      this.limitReached('maxDocumentNameLength')
      return this.refuseDocument(address, new FST_COLLAB_NAME_TOO_LONG(this.limits.maxDocumentNameLength).message, isAuth)
    }
    if (entry === undefined && this.entries.size() >= this.limits.maxDocumentsPerSocket) {
      this.refused('maxDocumentsPerSocket')
      this.limitReached('maxDocumentsPerSocket')
      return this.refuseDocument(address, new FST_COLLAB_TOO_MANY_DOCUMENTS(this.limits.maxDocumentsPerSocket).message, isAuth)
    }
    const pending = entry ?? this.addPending(address)
    if (pending === undefined) return
    if (message.type !== 'auth') return this.enqueue(pending, message, frame)
    if (pending.authenticating) return
    pending.authenticating = true
    if (documentName === '') return this.deny(pending, address, new FST_COLLAB_FORBIDDEN('the document name is empty'))
    this.authenticate(pending, address, documentName, message.token, message.providerVersion, hocuspocusCodec).catch(noop)
  }

  private nameTooLong (documentName: string): boolean {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit: most names need no count.
    const max = this.limits.maxDocumentNameLength
    return documentName.length * 3 > max && Buffer.byteLength(documentName) > max
  }

  private attached (): boolean {
    for (const entry of this.entries.values()) if (!(entry instanceof Pending)) return true
    return false
  }

  /**
   * Sends an answer to a frame of a document that is not attached (Pong
   * before any document is, PermissionDenied): it counts against the auth
   * queue bounds, so a client that does not read cannot make the server
   * queue answers without end.
   */
  private answer (frame: Uint8Array, counted: boolean): void {
    if (counted) {
      this.answeredBytes += frame.length
      this.answeredFrames++
      const passed = this.passedQueueBound()
      if (passed !== null) return this.exceed(passed, CloseCode.RESET_CONNECTION, 'Reset Connection: too many answers before authentication')
    }
    this.send(frame)
  }

  /**
   * PermissionDenied for a document refused before any hook ran. A refused
   * Auth frame counts against maxAuthFailures; the one that reaches it closes the socket with 4429.
   */
  private refuseDocument (address: string, reason: string, isAuth: boolean): void {
    this.answer(hocuspocusDenied(address, reason), true)
    if (isAuth) this.countAuthFailure()
  }

  private countAuthFailure (): void {
    if (++this.authFailures >= this.limits.maxAuthFailures) this.exceed('maxAuthFailures', CloseCode.TOO_MANY, 'Too Many: refused authentications')
  }

  private endClientSession (session: AttachedSession): void {
    this.entries.delete(session.address)
    session.leave()
  }

  // --- the auth queue -------------------------------------------------------

  private pendingCount (): number {
    let count = 0
    for (const entry of this.entries.values()) if (entry instanceof Pending) count++
    return count
  }

  /** The auth queue bound the socket has passed, if any. */
  private passedQueueBound (): 'authQueueMaxBytes' | 'authQueueMaxFrames' | null {
    const { authQueueMaxBytes, authQueueMaxFrames } = this.limits
    if (this.queuedBytes + this.answeredBytes > authQueueMaxBytes) return 'authQueueMaxBytes'
    return this.queuedFrames + this.answeredFrames > authQueueMaxFrames ? 'authQueueMaxFrames' : null
  }

  private addPending (address: string): Pending | undefined {
    if (this.pendingCount() >= this.limits.authQueueMaxDocuments) {
      this.exceed('authQueueMaxDocuments', CloseCode.RESET_CONNECTION, 'Reset Connection: too many documents awaiting authentication')
      return undefined
    }
    const pending = new Pending()
    this.entries.set(address, pending)
    const { authTimeout } = this.limits
    if (this.authTimer === null && authTimeout > 0) this.authTimer = setTimeout(authTimedOut, authTimeout, this)
    return pending
  }

  /**
   * A client that sends a document's frames but never its Auth would hold its
   * queue (up to authQueueMaxBytes) for as long as the socket lives.
   */
  onAuthTimeout (): void {
    this.authTimer = null
    for (const entry of this.entries.values()) {
      if (entry instanceof Pending && !entry.authenticating) {
        return this.exceed('authTimeout', CloseCode.CONNECTION_TIMEOUT, 'Connection Timeout: no authentication')
      }
    }
  }

  private enqueue (pending: Pending, message: DocumentMessage, frame: Uint8Array): void {
    this.queuedBytes += frame.length
    this.queuedFrames++
    pending.frames.push({ message, frame })
    const passed = this.passedQueueBound()
    if (passed !== null) this.exceed(passed, CloseCode.RESET_CONNECTION, 'Reset Connection: too much data before authentication')
  }

  private dropPending (address: string, pending: Pending): void {
    pending.cancelled = true
    for (const { frame } of pending.frames) this.queuedBytes -= frame.length
    this.queuedFrames -= pending.frames.length
    pending.frames = []
    if (this.entries.get(address) === pending) this.entries.delete(address)
    if (this.pendingCount() === 0) this.clearAuthTimer()
  }

  // --- authentication -------------------------------------------------------

  /**
   * onConnect, onAuthenticate (token undefined for y-websocket), then the
   * shared load. Only then does the client get any document data. The
   * socket is not read meanwhile: what ws had read already waits in the
   * queue (bounded), the rest in the kernel.
   */
  private async authenticate (pending: Pending, address: string, documentName: string, token: string | undefined, providerVersion: string | undefined, codec: Codec): Promise<void> {
    this.pause()
    try {
      await this.authenticateAndAttach(pending, address, documentName, token, providerVersion, codec)
    } finally {
      this.resume()
    }
  }

  private async authenticateAndAttach (pending: Pending, address: string, documentName: string, token: string | undefined, providerVersion: string | undefined, codec: Codec): Promise<void> {
    const { hooks, instance } = this.core
    const { request } = this
    if (request === undefined) {
      // A bound socket whose only document was closed: a new socket brings a new request.
      return this.fail(CloseCode.RESET_CONNECTION, 'Reset Connection: reconnect to open the document again')
    }
    const context: HookContext = { ...this.initialContext }
    const connectionConfig: ConnectionConfig = { readOnly: false, isAuthenticated: false }
    const payload: ConnectionPayload = {
      instance,
      documentName,
      request,
      requestHeaders: request.headers,
      requestParameters: new URLSearchParams(request.url.split('?')[1] ?? ''),
      socketId: this.socketId,
      context,
      connectionConfig,
      protocol: codec.protocol
    }
    try {
      // The hook runner logs a refusal, with the request id.
      await hooks.runMerging('onConnect', payload)
      await hooks.runMerging('onAuthenticate', { ...payload, token, providerVersion })
    } catch (error) {
      return this.deny(pending, address, error)
    }
    try {
      this.core.checkContext(documentName, context)
    } catch (error) {
      this.log.info({ err: error }, 'collab connection refused')
      return this.deny(pending, address, error)
    }
    connectionConfig.isAuthenticated = true
    let session: AttachedSession | null
    try {
      session = await this.core.reach(this, {
        documentName,
        address,
        codec,
        readOnly: connectionConfig.readOnly,
        context,
        request,
        cancelled: () => this.closed || pending.cancelled,
        attached: (attached) => this.entries.set(address, attached)
      })
    } catch (error) {
      if (codec.protocol === 'y-websocket') return this.refuseYWebsocket(CloseCode.INTERNAL_ERROR, 'Internal Error: the document could not be loaded', error)
      if (isUnavailable(error)) {
        const { code, reason } = refusalClose(error)
        return this.fail(code, reason, error)
      }
      return this.deny(pending, address, error)
    }
    if (session === null) return
    // Replay what came during auth, in order, before any newer frame.
    const frames = pending.frames
    this.dropPending(address, pending)
    for (const { message, frame } of frames) {
      if (this.closed) break
      session.receive(message, frame)
    }
    if (this.boundName !== undefined && !this.core.keepsRequest) this.request = undefined
  }

  private deny (pending: Pending, address: string, error: unknown): void {
    if (this.closed) return
    this.dropPending(address, pending)
    if (this.protocol === 'y-websocket') return this.refuseYWebsocket(CloseCode.FORBIDDEN, 'Forbidden', error)
    // The socket stays open for its other documents, as in Hocuspocus.
    this.refuseDocument(address, clientReason(error), true)
  }

  /** y-protocols auth.js PermissionDenied, then a close code. */
  private refuseYWebsocket (code: CloseCodeValue, reason: string, error: unknown): void {
    if (this.closed) return
    this.send(yWebsocketDenied(clientReason(error)))
    this.log.info({ err: error, code }, `collab connection refused: ${reason}`)
    this.close(code, reason)
  }

  // --- closing --------------------------------------------------------------

  onClose (): void {
    this.closed = true
    this.core.sockets.delete(this)
    this.detachAll()
  }

  private clearAuthTimer (): void {
    if (this.authTimer === null) return
    clearTimeout(this.authTimer)
    this.authTimer = null
  }

  private detachAll (): void {
    for (const [address, entry] of this.entries.entries()) {
      if (entry instanceof Pending) this.dropPending(address, entry)
      else entry.leave()
    }
    this.entries.clear()
  }
}

// Shared by every connection: a bound method or arrow per connection would
// be a closure kept for the socket's whole life.
function authTimedOut (connection: Connection): void {
  connection.onAuthTimeout()
}

function uncork (connection: Connection): void {
  connection.uncork()
}

// ws's own reference to the TCP socket under the WebSocket.
function tcpSocketOf (socket: WebSocket): Socket {
  return (socket as WebSocket & { _socket: Socket })._socket
}

function connectionOf (socket: WebSocket): Connection {
  return (socket as WebSocket & { [kCollabConnection]: Connection })[kCollabConnection]
}

function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  connectionOf(this).onMessage(data, isBinary)
}

function onSocketClose (this: WebSocket): void {
  connectionOf(this).onClose()
}

function onSocketError (this: WebSocket, error: Error): void {
  const connection = connectionOf(this)
  connection.log.debug({ err: error }, 'collab socket error')
}
