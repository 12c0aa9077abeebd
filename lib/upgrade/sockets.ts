import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { WebSocket } from 'ws'
import { CloseCode, type CloseCodeValue } from '../close-codes.js'
import { type InstanceIdentity, type LimitName, publishLimit, socketCloseChannel, type SocketCloseEvent } from '../diagnostics.js'
import { FST_COLLAB_EARLY_FRAMES_FULL, FST_COLLAB_SEND_BUFFER_FULL } from '../errors.js'
import { kSocketAlive, kSocketLog } from '../symbols.js'
import type { EarlyFrameLimits } from './early-frames.js'
import type { TrackedSocket } from './types.js'
import { boundSend, createWebSocketClass } from './websocket.js'

/** The registry's settings, from the plugin options. */
export interface SocketLimits {
  heartbeatInterval: number
  closeTimeout: number
  maxBufferedAmount: number
  /** The collab option: bytes of frames held for a socket that nobody reads yet (see early-frames.ts). */
  authQueueMaxBytes: number
  /** The collab option: frames held for a socket that nobody reads yet. */
  authQueueMaxFrames: number
}

// Shared by every socket: `this` is the socket, so no closure is kept per socket.
// ws closes the socket itself after an error (invalid frame, 1009, ECONNRESET):
// this listener only keeps the 'error' event from crashing the process.
function onSocketError (this: WebSocket, err: Error): void {
  (this as TrackedSocket)[kSocketLog].info({ err }, 'WebSocket error')
}

// RFC 6455 §5.5.3: the pong that answers the heartbeat's ping.
function onPong (this: WebSocket): void {
  (this as TrackedSocket)[kSocketAlive] = true
}

function terminate (socket: WebSocket): void {
  socket.terminate()
}

/**
 * The sockets this plugin is responsible for: raw sockets between the 'upgrade'
 * event and their answer (pending), and upgraded WebSockets (open). It owns the
 * heartbeat, the send-buffer bound and the shutdown of both.
 */
export class Sockets {
  /** Upgraded sockets, until their 'close'. */
  readonly open = new Set<WebSocket>()
  /** Raw sockets whose upgrade request is still in Fastify's lifecycle. */
  readonly pending = new Set<Duplex>()
  /** True once `fastify.close()` has started: no new upgrade may complete. */
  closing = false
  /** The class of the plugin's WebSocketServer: its sends are bounded by maxBufferedAmount. */
  readonly WebSocket: typeof WebSocket
  /** The bounds of the frames held for each socket until the app reads it, and what closes it past them. */
  readonly earlyFrames: EarlyFrameLimits

  readonly #limits: SocketLimits
  #heartbeat: NodeJS.Timeout | null = null
  #drained: (() => void) | null = null
  readonly #onOpenClose: (this: WebSocket, code: number) => void
  readonly #onPendingClose: (this: Duplex) => void
  readonly #onOverflow: (socket: WebSocket) => void

  /**
   * @param instance - the app's `fastify.collab`, which the diagnostics events of the upgrade layer carry
   *   to tell apps in one process apart.
   */
  constructor (limits: SocketLimits, readonly instance: InstanceIdentity) {
    this.#limits = limits
    const sockets = this
    // One listener per registry, not per socket: `this` is the socket.
    this.#onOpenClose = function (code) {
      sockets.open.delete(this)
      if (socketCloseChannel.hasSubscribers) socketCloseChannel.publish({ instance, socket: this, code } satisfies SocketCloseEvent)
      sockets.#checkDrained()
    }
    this.#onPendingClose = function () {
      sockets.pending.delete(this)
      sockets.#checkDrained()
    }
    this.#onOverflow = (socket) => this.#overflow(socket as TrackedSocket)
    this.WebSocket = createWebSocketClass(limits.maxBufferedAmount, this.#onOverflow)
    this.earlyFrames = {
      maxBytes: limits.authQueueMaxBytes,
      maxFrames: limits.authQueueMaxFrames,
      onOverflow: (socket, limit) => this.#earlyOverflow(socket as TrackedSocket, limit)
    }
  }

  /** Tracks a raw socket from the 'upgrade' event until it closes or is upgraded. */
  trackPending (socket: Duplex): void {
    this.pending.add(socket)
    socket.on('close', this.#onPendingClose)
  }

  /**
   * Moves an upgraded socket from pending to open: heartbeat, send-buffer bound,
   * error logging, shutdown.
   * @param log - the request's logger (Fastify's child logger, with its request id label).
   */
  add (raw: Duplex, ws: WebSocket, log: FastifyBaseLogger): void {
    this.pending.delete(raw)
    raw.removeListener('close', this.#onPendingClose)
    const socket = ws as TrackedSocket
    socket[kSocketLog] = log
    socket[kSocketAlive] = true
    // A caller's own server (reply.upgrade({ server })) made it with its own class.
    if (!(ws instanceof this.WebSocket)) boundSend(ws, this.#limits.maxBufferedAmount, this.#onOverflow)
    socket.on('error', onSocketError)
    // `on`, not `once`: a socket closes once, and `once` allocates a wrapper per socket.
    socket.on('close', this.#onOpenClose)
    this.open.add(socket)
    // A handshake that a caller's own server completed late, during close().
    if (this.closing) {
      socket.close(CloseCode.GOING_AWAY, 'Server shutting down')
      return
    }
    if (this.#limits.heartbeatInterval > 0) {
      socket.on('pong', onPong)
      this.#heartbeat ??= setInterval(this.#beat, this.#limits.heartbeatInterval).unref()
    }
  }

  // The client does not read what it is sent. Its buffer stays until the
  // socket is gone: the close frame waits behind it, so a client that never
  // reads is terminated after closeTimeout. Only the first overflow acts: the
  // close leaves the socket CLOSING, and ws drops later sends.
  #overflow (socket: TrackedSocket): void {
    if (socket.readyState !== WebSocket.OPEN) return
    const err = new FST_COLLAB_SEND_BUFFER_FULL(socket.bufferedAmount, this.#limits.maxBufferedAmount)
    this.#closeForLimit(socket, 'maxBufferedAmount', err, CloseCode.TRY_AGAIN_LATER, 'Try Again Later',
      'WebSocket closed with 1013: the client does not read what it is sent')
  }

  // The client sent more than a socket holds before the app reads it (a
  // handler still awaiting, or one that never reads). Once per socket.
  #earlyOverflow (socket: TrackedSocket, limit: 'authQueueMaxBytes' | 'authQueueMaxFrames'): void {
    if (socket.readyState !== WebSocket.OPEN) return
    const err = new FST_COLLAB_EARLY_FRAMES_FULL(limit, this.#limits[limit])
    this.#closeForLimit(socket, limit, err, CloseCode.RESET_CONNECTION, 'Reset Connection',
      'WebSocket closed with 4205: more frames came than are held before the app reads the socket')
  }

  // A bound closes the socket: one warn line, the `limit` diagnostics event, and
  // a terminate() if the closing handshake takes longer than closeTimeout.
  #closeForLimit (socket: TrackedSocket, limit: LimitName, err: Error, code: CloseCodeValue, reason: string, message: string): void {
    publishLimit(this.instance, limit)
    socket[kSocketLog].warn({ err }, message)
    socket.close(code, reason)
    setTimeout(terminate, this.#limits.closeTimeout, socket).unref()
  }

  // RFC 6455 §5.5.2: a ping must be answered with a pong. A socket whose last
  // ping got no pong is gone, or does not read: a client that keeps sending
  // without reading our frames never reads the ping either.
  readonly #beat = (): void => {
    for (const ws of this.open) {
      const socket = ws as TrackedSocket
      if (!socket[kSocketAlive]) {
        socket.terminate()
        continue
      }
      socket[kSocketAlive] = false
      socket.ping()
    }
  }

  /**
   * Shuts down: closes every open socket with 1001, waits up to `closeTimeout` ms
   * for their closing handshakes and for pending upgrade requests to end, then
   * terminates and destroys what is left.
   */
  async close (): Promise<void> {
    this.closing = true
    if (this.#heartbeat !== null) {
      clearInterval(this.#heartbeat)
      this.#heartbeat = null
    }
    for (const ws of this.open) ws.close(CloseCode.GOING_AWAY, 'Server shutting down')
    if (this.open.size > 0 || this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#drained = resolve
        timer = setTimeout(resolve, this.#limits.closeTimeout)
      })
      clearTimeout(timer)
      this.#drained = null
    }
    for (const ws of this.open) ws.terminate()
    for (const socket of this.pending) socket.destroy()
  }

  #checkDrained (): void {
    if (this.#drained !== null && this.open.size === 0 && this.pending.size === 0) this.#drained()
  }
}
