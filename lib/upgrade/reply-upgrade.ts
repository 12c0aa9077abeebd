import { type IncomingMessage, type OutgoingHttpHeaders, validateHeaderName, validateHeaderValue } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'
import {
  FST_COLLAB_BAD_HANDSHAKE,
  FST_COLLAB_CLOSING,
  FST_COLLAB_NOT_UPGRADE_REQUEST,
  FST_COLLAB_REPLY_ALREADY_SENT,
  FST_COLLAB_UNSUPPORTED_VERSION,
  FST_COLLAB_UPGRADE_ABORTED
} from '../errors.js'
import { kRouteUpgrade } from '../symbols.js'
import { publishLimit } from '../diagnostics.js'
import { holdEarlyFrames } from './early-frames.js'
import { ignoreSocketError, publishUpgrade, upgradeOf } from './request.js'
import { ensureMessageValidator, type JsonParser, validateMessages } from './messages.js'
import type { UpgradeErrorHandler } from './options.js'
import { checkOrigin } from './origin.js'
import type { Sockets } from './sockets.js'
import type { AllowedOrigins, RouteUpgrade, RouteUpgradeConfig, UpgradeRequest } from './types.js'
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
   * upgrade yourself". The socket still gets the plugin's heartbeat, send-buffer
   * bound (`maxBufferedAmount`) and shutdown.
   */
  server?: WebSocketServer
}

/**
 * What reply.upgrade() needs beside the server and the registry.
 * @internal
 */
export interface ReplyUpgradeSettings {
  /** The plugin's `allowedOrigins`, for a route without its own (a non-GET route). */
  allowedOrigins: AllowedOrigins | null
  /** The app's JSON parser, for routes with `schema.message`. */
  parse: JsonParser
}

// RFC 6455 §4.1: a base64-encoded 16-byte nonce.
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/

/**
 * 'headers' listener of a WebSocketServer: adds the headers asked for with
 * `reply.upgrade({ headers })` to the 101. ws emits it synchronously right
 * before writing the response, for this very request.
 */
function addResponseHeaders (headers: string[], req: IncomingMessage): void {
  const extra = upgradeOf(req)?.responseHeaders
  if (extra === undefined || extra === null) return
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
  const upgrade = upgradeOf(req)
  if (upgrade !== undefined) upgrade.handshakeError = err
  const body = JSON.stringify({ statusCode: 400, code: err.code, error: 'Bad Request', message: err.message })
  socket.once('finish', socket.destroy)
  socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

// Every server that completes handshakes gets both listeners, once: the
// plugin's own, and those passed with reply.upgrade({ server }).
const preparedServers = new WeakSet<WebSocketServer>()

/**
 * Adds the plugin's 'headers' and 'wsClientError' listeners to a WebSocketServer, once.
 * @internal
 */
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

/** The route's upgrade settings, read from its `config` (see route.ts); null for a non-GET route. */
function routeUpgradeOf (reply: FastifyReply): RouteUpgrade | null {
  return (reply.routeOptions.config as RouteUpgradeConfig)[kRouteUpgrade] ?? null
}

/**
 * Builds `reply.upgrade()` for the plugin's WebSocketServer and socket registry.
 * @internal
 */
export function createReplyUpgrade (wss: WebSocketServer, sockets: Sockets, settings: ReplyUpgradeSettings) {
  /**
   * Completes the WebSocket handshake of this upgrade request.
   *
   * The reply is hijacked synchronously: from here on, onSend, preSerialization,
   * onResponse and onTimeout do not run, and later `reply.send()` calls are ignored.
   * @throws FST_COLLAB_NOT_UPGRADE_REQUEST (426, with `Upgrade: websocket`) on a plain HTTP request.
   * @throws FST_COLLAB_ORIGIN_FORBIDDEN (403) when `allowedOrigins` refuses the request's `Origin`.
   * @throws FST_COLLAB_BAD_HANDSHAKE (400) or FST_COLLAB_UNSUPPORTED_VERSION (426) on an invalid handshake (RFC 6455 §4.2.1).
   * @throws FST_COLLAB_CLOSING (503) while `fastify.close()` runs.
   * @throws FST_COLLAB_REPLY_ALREADY_SENT when the reply was already sent or upgraded.
   * @throws ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR for an invalid `options.headers` entry.
   * @returns the `ws` WebSocket, once the 101 is written; what it receives is held until its first
   * 'message' listener (see early-frames.ts). Rejects with
   * FST_COLLAB_UPGRADE_ABORTED if the client goes away before that (it never hangs), or with
   * FST_COLLAB_BAD_HANDSHAKE when ws refuses the handshake (the client then gets a 400).
   */
  return function upgrade (this: FastifyReply, options?: ReplyUpgradeOptions): Promise<WebSocket> {
    const request: FastifyRequest = this.request
    const raw = request.raw
    const upgrade = upgradeOf(raw)
    if (upgrade === undefined) {
      // On the reply, not the error: an app's own error handler keeps it too.
      this.header('upgrade', 'websocket').header('connection', 'Upgrade')
      throw new FST_COLLAB_NOT_UPGRADE_REQUEST()
    }
    if (this.sent || upgrade.promise !== null) throw new FST_COLLAB_REPLY_ALREADY_SENT()
    if (sockets.closing) throw new FST_COLLAB_CLOSING()
    // From the handler wrapper, or from the route's config when called before the handler (in a hook).
    const route = upgrade.route ?? routeUpgradeOf(this)
    try {
      checkOrigin(route === null ? settings.allowedOrigins : route.allowedOrigins, request)
    } catch (error) {
      publishLimit(sockets.instance, 'allowedOrigins')
      throw error
    }
    checkHandshake(raw)
    const messages = route?.messages ?? null
    if (messages !== null) ensureMessageValidator(messages, request)
    if (options?.headers !== undefined) {
      checkResponseHeaders(options.headers)
      upgrade.responseHeaders = options.headers
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
    if (upgrade.collect !== null) {
      socket.removeListener('data', upgrade.collect)
      upgrade.collect = null
    }
    const promise = new Promise<WebSocket>((resolve, reject) => {
      // Gone already (a reset, or too much early data): its 'close' may be past.
      if (socket.destroyed || !socket.readable || !socket.writable) {
        socket.destroy()
        fail(new FST_COLLAB_UPGRADE_ABORTED())
        return
      }
      // ws destroys a socket that half-closes now without calling back:
      // 'close' is the one event that always comes, so it settles the promise.
      function onClose (): void {
        fail(upgrade?.handshakeError ?? new FST_COLLAB_UPGRADE_ABORTED())
      }
      // The diagnostics give the handshake the error's status: 400 for one ws refused (answered by
      // answerBadHandshake), 499 when the client left (nothing was answered; nginx's "client closed request").
      function fail (error: FastifyError): void {
        publishUpgrade(sockets, raw, error.statusCode as number)
        reject(error)
      }
      socket.once('close', onClose)
      // ws may complete the handshake synchronously, inside this executor.
      server.handleUpgrade(raw, socket, upgrade.head, (ws) => {
        socket.removeListener('close', onClose)
        socket.removeListener('error', ignoreSocketError)
        sockets.add(socket, ws, request.log)
        publishUpgrade(sockets, raw, 101)
        if (messages !== null) validateMessages(ws, messages, request, settings.parse)
        // After validateMessages: the held frames go through the socket's final `emit`.
        holdEarlyFrames(ws, sockets.earlyFrames)
        // As ws's own server mode does, so 'connection' listeners see every socket.
        server.emit('connection', ws, raw)
        resolve(ws)
      })
    })
    upgrade.promise = promise
    // Runs before the caller's own continuation. It also marks the promise as
    // handled: a handler that ignores it must not crash the process when the
    // client leaves; one that awaits it still sees the rejection.
    promise.then((ws) => { upgrade.socket = ws }, noop)
    return promise
  }
}

/**
 * Builds what happens when a route handler throws or rejects after
 * `reply.upgrade()`: by default `request.log.error` and close code 1011
 * (RFC 6455 §7.4.1), or the plugin's `errorHandler`. An errorHandler that
 * throws or rejects is logged and the socket closed with 1011: never an
 * uncaught exception or an unhandled rejection.
 * @internal
 */
export function createUpgradedErrorHandler (errorHandler: UpgradeErrorHandler | null) {
  function closeWithError (socket: WebSocket, request: FastifyRequest, err: unknown, message: string): void {
    request.log.error({ err }, message)
    socket.close(CloseCode.INTERNAL_ERROR, 'Internal Error')
  }

  function handle (error: unknown, socket: WebSocket, request: FastifyRequest): void {
    if (errorHandler === null) return closeWithError(socket, request, error, 'WebSocket route handler failed after the upgrade')
    let result: unknown
    try {
      result = errorHandler(error, socket, request)
    } catch (err) {
      return closeWithError(socket, request, err, 'The WebSocket errorHandler threw')
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => closeWithError(socket, request, err, 'The WebSocket errorHandler rejected'))
    }
  }

  return function onUpgradedError (error: unknown, request: FastifyRequest, upgrade: UpgradeRequest): void {
    if (upgrade.socket !== null) {
      handle(error, upgrade.socket, request)
      return
    }
    // Before the handshake finished: either the upgrade itself failed (the
    // client left, or ws refused the handshake), which is the client's doing,
    // or the handler failed meanwhile, and the socket closes once it opens.
    (upgrade.promise as Promise<WebSocket>).then((socket) => handle(error, socket, request), () => {
      request.log.info({ err: error }, 'WebSocket upgrade failed')
    })
  }
}
