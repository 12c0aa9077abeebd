import { type IncomingMessage, type OutgoingHttpHeaders, validateHeaderName, validateHeaderValue } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'
import {
  FST_COLLAB_BAD_HANDSHAKE,
  FST_COLLAB_CLOSING,
  FST_COLLAB_NOT_UPGRADE_REQUEST,
  FST_COLLAB_REPLY_ALREADY_SENT,
  FST_COLLAB_UNSUPPORTED_VERSION,
  FST_COLLAB_UPGRADE_ABORTED
} from '../errors.js'
import { kEarlyData, kHandshakeError, kResponseHeaders, kUpgradeHead, kUpgradeState } from '../symbols.js'
import { ignoreSocketError } from './listener.js'
import type { UpgradeErrorHandler } from './options.js'
import type { Sockets } from './sockets.js'
import { noop } from '../noop.js'
import { CloseCode } from '../close-codes.js'

/** Options of `reply.upgrade()`. */
export interface ReplyUpgradeOptions {
  /**
   * Extra headers for the `101 Switching Protocols` response. Names and values are checked as
   * Node's `setHeader` checks them, so that a value taken from the request cannot split the response.
   * @throws ERR_INVALID_HTTP_TOKEN or ERR_INVALID_CHAR (Node's codes; Fastify answers 500).
   */
  headers?: OutgoingHttpHeaders
  /**
   * A `ws` WebSocketServer of your own, created with `{ noServer: true }`, to
   * complete the handshake with (its options, its 'connection' event) instead of
   * `fastify.websocketServer`. The Fastify form of Hocuspocus's "handle the
   * upgrade yourself". The socket still gets the plugin's heartbeat and shutdown.
   */
  server?: WebSocketServer
}

/** What a reply knows of its upgrade, from the moment `reply.upgrade()` hijacks it. */
export interface UpgradeState {
  /** The WebSocket, once the 101 is written. */
  socket: WebSocket | null
  /** Settles with the WebSocket, or rejects with FST_COLLAB_UPGRADE_ABORTED. */
  promise: Promise<WebSocket>
}

declare module 'node:http' {
  interface IncomingMessage {
    [kResponseHeaders]?: OutgoingHttpHeaders
    [kHandshakeError]?: Error
  }
}

declare module 'fastify' {
  interface FastifyReply {
    [kUpgradeState]: UpgradeState | null
  }
}

// RFC 6455 §4.1: a base64-encoded 16-byte nonce.
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/

/**
 * 'headers' listener of a WebSocketServer: adds the headers asked for with
 * `reply.upgrade({ headers })` to the 101. ws emits it synchronously right
 * before writing the response, for this very request.
 */
function addResponseHeaders (headers: string[], req: IncomingMessage): void {
  const extra = req[kResponseHeaders]
  if (extra === undefined) return
  for (const name of Object.keys(extra)) {
    const value = extra[name]
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.push(`${name}: ${item}`)
  }
}

/**
 * 'wsClientError' listener of a WebSocketServer: ws found the handshake invalid
 * (e.g. a malformed Sec-WebSocket-Protocol, RFC 6455 §4.1) after the hijack,
 * where Fastify can no longer answer. Answer 400 as Fastify would, and let the
 * 'close' that follows reject reply.upgrade() with FST_COLLAB_BAD_HANDSHAKE.
 */
function answerBadHandshake (error: Error, socket: Duplex, req: IncomingMessage): void {
  const err = new FST_COLLAB_BAD_HANDSHAKE(error.message)
  req[kHandshakeError] = err
  const body = JSON.stringify({ statusCode: 400, code: err.code, error: 'Bad Request', message: err.message })
  socket.once('finish', socket.destroy)
  socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

// Every server that completes handshakes gets both listeners, once: the
// plugin's own, and those passed with reply.upgrade({ server }).
const preparedServers = new WeakSet<WebSocketServer>()

/** Adds the plugin's 'headers' and 'wsClientError' listeners to a WebSocketServer, once. */
export function prepareServer (server: WebSocketServer): void {
  if (preparedServers.has(server)) return
  preparedServers.add(server)
  server.on('headers', addResponseHeaders)
  server.on('wsClientError', answerBadHandshake)
}

function checkResponseHeaders (headers: OutgoingHttpHeaders): void {
  for (const name of Object.keys(headers)) {
    validateHeaderName(name)
    const value = headers[name]
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(item))
  }
}

// After the upgrade there is no HTTP reply left to send: a late reply.send(),
// or a value returned by the handler, is dropped.
function sendAfterUpgrade (this: FastifyReply): FastifyReply {
  this.log.debug('reply.send() after reply.upgrade() is ignored: the connection is a WebSocket now')
  return this
}

/**
 * Checks the parts of the opening handshake that ws would otherwise answer on
 * its own, after the hijack, where Fastify's error handler cannot see them.
 */
function checkHandshake (req: IncomingMessage): void {
  if (req.method !== 'GET') throw new FST_COLLAB_BAD_HANDSHAKE('the method must be GET (RFC 6455 §4.1)')
  const key = req.headers['sec-websocket-key']
  if (key === undefined || !WEBSOCKET_KEY.test(key)) {
    throw new FST_COLLAB_BAD_HANDSHAKE('missing or invalid Sec-WebSocket-Key (RFC 6455 §4.1)')
  }
  const version = req.headers['sec-websocket-version']
  if (version !== '13' && version !== '8') {
    throw Object.assign(new FST_COLLAB_UNSUPPORTED_VERSION(), { headers: { 'sec-websocket-version': '13' } })
  }
}

/** Builds `reply.upgrade()` for the plugin's WebSocketServer and socket registry. */
export function createReplyUpgrade (wss: WebSocketServer, sockets: Sockets) {
  /**
   * Completes the WebSocket handshake of this upgrade request.
   *
   * The reply is hijacked synchronously: from here on, onSend, preSerialization,
   * onResponse and onTimeout do not run, and later `reply.send()` calls are ignored.
   * @throws FST_COLLAB_NOT_UPGRADE_REQUEST (426, with `Upgrade: websocket`) on a plain HTTP request.
   * @throws FST_COLLAB_BAD_HANDSHAKE (400) or FST_COLLAB_UNSUPPORTED_VERSION (426) on an invalid handshake (RFC 6455 §4.2.1).
   * @throws FST_COLLAB_CLOSING (503) while `fastify.close()` runs.
   * @throws FST_COLLAB_REPLY_ALREADY_SENT when the reply was already sent or upgraded.
   * @throws ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR for an invalid `options.headers` entry.
   * @returns the `ws` WebSocket, once the 101 is written. Rejects with
   * FST_COLLAB_UPGRADE_ABORTED if the client goes away before that (it never hangs), or with
   * FST_COLLAB_BAD_HANDSHAKE when ws refuses the handshake (the client then gets a 400).
   */
  return function upgrade (this: FastifyReply, options?: ReplyUpgradeOptions): Promise<WebSocket> {
    const request: FastifyRequest = this.request
    const raw = request.raw
    if (raw[kUpgradeHead] === undefined) {
      throw Object.assign(new FST_COLLAB_NOT_UPGRADE_REQUEST(), { headers: { upgrade: 'websocket', connection: 'Upgrade' } })
    }
    if (this.sent || this[kUpgradeState] !== null) throw new FST_COLLAB_REPLY_ALREADY_SENT()
    if (sockets.closing) throw new FST_COLLAB_CLOSING()
    checkHandshake(raw)
    if (options?.headers !== undefined) {
      checkResponseHeaders(options.headers)
      raw[kResponseHeaders] = options.headers
    }
    const server = options?.server ?? wss
    prepareServer(server)

    this.hijack()
    this.send = sendAfterUpgrade
    // The ServerResponse only existed for an HTTP answer; ws writes the 101 itself.
    this.raw.detachSocket(raw.socket)
    const socket = raw.socket
    // Hand reading over to ws: it attaches its own 'data' listener synchronously
    // inside handleUpgrade, and replays the bytes collected so far (the head).
    socket.removeListener('data', raw[kEarlyData] as (chunk: Buffer) => void)
    const promise = new Promise<WebSocket>((resolve, reject) => {
      // Gone already (a reset, or too much early data): its 'close' may be past.
      if (socket.destroyed || !socket.readable || !socket.writable) {
        socket.destroy()
        reject(new FST_COLLAB_UPGRADE_ABORTED())
        return
      }
      // ws destroys a socket that half-closes now without calling back:
      // 'close' is the one event that always comes, so it settles the promise.
      function onClose (): void {
        reject(raw[kHandshakeError] ?? new FST_COLLAB_UPGRADE_ABORTED())
      }
      socket.once('close', onClose)
      // ws may complete the handshake synchronously, inside this executor.
      server.handleUpgrade(raw, socket, raw[kUpgradeHead] as Buffer, (ws) => {
        socket.removeListener('close', onClose)
        socket.removeListener('error', ignoreSocketError)
        sockets.add(socket, ws, request.id)
        // As ws's own server mode does, so 'connection' listeners see every socket.
        server.emit('connection', ws, raw)
        resolve(ws)
      })
    })
    const state: UpgradeState = { socket: null, promise }
    // Runs before the caller's own continuation. It also marks the promise as
    // handled: a handler that ignores it must not crash the process when the
    // client leaves; one that awaits it still sees the rejection.
    promise.then((ws) => { state.socket = ws }, noop)
    this[kUpgradeState] = state
    return promise
  }
}

/**
 * Builds what happens when a route handler throws or rejects after
 * `reply.upgrade()`: by default `request.log.error` and close code 1011
 * (RFC 6455 §7.4.1), or the plugin's `errorHandler`.
 */
export function createUpgradedErrorHandler (errorHandler: UpgradeErrorHandler | null) {
  function handle (error: unknown, socket: WebSocket, request: FastifyRequest): void {
    if (errorHandler === null) {
      request.log.error({ err: error }, 'WebSocket route handler failed after the upgrade')
      socket.close(CloseCode.INTERNAL_ERROR, 'Internal Error')
      return
    }
    try {
      errorHandler(error, socket, request)
    } catch (err) {
      request.log.error({ err }, 'The WebSocket errorHandler threw')
      socket.close(CloseCode.INTERNAL_ERROR, 'Internal Error')
    }
  }

  return function onUpgradedError (error: unknown, request: FastifyRequest, state: UpgradeState): void {
    if (state.socket !== null) {
      handle(error, state.socket, request)
      return
    }
    // Before the handshake finished: either the upgrade itself failed (the
    // client left, or ws refused the handshake), which is the client's doing,
    // or the handler failed meanwhile, and the socket closes once it opens.
    state.promise.then((socket) => handle(error, socket, request), () => {
      request.log.info({ err: error }, 'WebSocket upgrade failed')
    })
  }
}
