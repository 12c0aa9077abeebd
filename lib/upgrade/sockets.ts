import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '../close-codes.js'
import { kBytesRead, kRequestId } from '../symbols.js'

interface TrackedSocket extends WebSocket {
  /** The TCP socket's bytesRead at the last heartbeat ping. */
  [kBytesRead]: number
  /** The id of the request the socket came from, for its log lines. */
  [kRequestId]: string
  /** ws's own reference to the TCP socket. */
  _socket: Socket
}

/**
 * The sockets this plugin is responsible for: raw sockets between the 'upgrade'
 * event and their answer (pending), and upgraded WebSockets (open). It owns the
 * heartbeat and the shutdown of both.
 */
export class Sockets {
  /** Upgraded sockets, until their 'close'. */
  readonly open = new Set<WebSocket>()
  /** Raw sockets whose upgrade request is still in Fastify's lifecycle. */
  readonly pending = new Set<Duplex>()
  /** True once `fastify.close()` has started: no new upgrade may complete. */
  closing = false

  readonly #heartbeatInterval: number
  readonly #closeTimeout: number
  #heartbeat: NodeJS.Timeout | null = null
  #drained: (() => void) | null = null
  readonly #onOpenClose: (this: WebSocket) => void
  readonly #onPendingClose: (this: Duplex) => void
  readonly #onSocketError: (this: WebSocket, err: Error) => void

  /**
   * @param log - the root logger: a socket keeps only its request's id, not
   *   the request's child logger, which would cost every idle socket memory.
   */
  constructor (heartbeatInterval: number, closeTimeout: number, log: FastifyBaseLogger) {
    this.#heartbeatInterval = heartbeatInterval
    this.#closeTimeout = closeTimeout
    const sockets = this
    // ws closes the socket itself after an error (invalid frame, 1009, ECONNRESET):
    // this listener only keeps the 'error' event from crashing the process.
    this.#onSocketError = function (err) {
      log.info({ reqId: (this as TrackedSocket)[kRequestId], err }, 'WebSocket error')
    }
    // One listener per registry, not per socket: `this` is the socket.
    this.#onOpenClose = function () {
      sockets.open.delete(this)
      sockets.#checkDrained()
    }
    this.#onPendingClose = function () {
      sockets.pending.delete(this)
      sockets.#checkDrained()
    }
  }

  /** Tracks a raw socket from the 'upgrade' event until it closes or is upgraded. */
  trackPending (socket: Duplex): void {
    this.pending.add(socket)
    socket.on('close', this.#onPendingClose)
  }

  /** Moves an upgraded socket from pending to open: heartbeat, error logging, shutdown. */
  add (raw: Duplex, ws: WebSocket, requestId: string): void {
    this.pending.delete(raw)
    raw.removeListener('close', this.#onPendingClose)
    const socket = ws as TrackedSocket
    socket[kBytesRead] = -1
    socket[kRequestId] = requestId
    socket.on('error', this.#onSocketError)
    // `on`, not `once`: a socket closes once, and `once` allocates a wrapper per socket.
    socket.on('close', this.#onOpenClose)
    this.open.add(socket)
    // A handshake that a caller's own server completed late, during close().
    if (this.closing) {
      socket.close(CloseCode.GOING_AWAY, 'Server shutting down')
      return
    }
    if (this.#heartbeat === null && this.#heartbeatInterval > 0) {
      this.#heartbeat = setInterval(this.#beat, this.#heartbeatInterval).unref()
    }
  }

  // RFC 6455 §5.5.2: a ping must be answered with a pong. A socket that has
  // read nothing since the previous ping (no pong, no frame at all) is gone.
  // Counting bytes instead of listening for 'pong' saves a listener per socket.
  readonly #beat = (): void => {
    for (const ws of this.open) {
      const socket = ws as TrackedSocket
      const read = socket._socket.bytesRead
      if (read === socket[kBytesRead]) {
        socket.terminate()
        continue
      }
      socket[kBytesRead] = read
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
        timer = setTimeout(resolve, this.#closeTimeout)
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
