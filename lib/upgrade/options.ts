import type { FastifyRequest } from 'fastify'
import type { ServerOptions, WebSocket } from 'ws'
import { FST_COLLAB_INVALID_OPTION } from '../errors.js'
import type { AllowedOrigins } from './types.js'

/**
 * Options of the `ws` WebSocketServer that the plugin creates in `noServer` mode.
 * Everything of ws's `ServerOptions` is passed through, except what would let
 * `ws` handle the upgrade itself: `server`, `port`, `host`, `path`, `noServer`,
 * `verifyClient` and `backlog`. Use routes and `onUpgrade` hooks for those. `WebSocket`
 * is the plugin's own (it bounds every send); pass a subclass of ws's WebSocket
 * through `reply.upgrade({ server })` if you need one.
 */
export type WebSocketServerOptions = Omit<ServerOptions, 'server' | 'port' | 'host' | 'path' | 'noServer' | 'verifyClient' | 'backlog' | 'WebSocket'>

/**
 * Handles an error thrown or rejected by a route handler after `reply.upgrade()`.
 * It may be async: a rejection (or a throw) is logged with `request.log.error` and
 * the socket is closed with 1011; it never becomes an unhandled rejection.
 *
 * @param error - what the handler threw or rejected with (any value, not only an Error).
 * @param socket - the upgraded `ws` WebSocket.
 * @param request - the Fastify request of the upgrade.
 */
export type UpgradeErrorHandler = (error: unknown, socket: WebSocket, request: FastifyRequest) => void | Promise<void>

/** The upgrade options of the plugin. */
export interface UpgradeOptions {
  /**
   * Passed to the `ws` WebSocketServer (`maxPayload`, `perMessageDeflate`, `handleProtocols`, ...).
   * `maxPayload` defaults to 10 MiB (10_485_760 bytes) instead of ws's 100 MiB: a larger
   * incoming message closes its socket with 1009 Message Too Big (RFC 6455 §7.4.1).
   * `clientTracking` defaults to `false`: the plugin keeps its own registry of upgraded sockets.
   * @throws FST_COLLAB_INVALID_OPTION for `server`, `port`, `host`, `path`, `noServer`, `verifyClient`,
   * `backlog` or `WebSocket`.
   */
  ws?: WebSocketServerOptions
  /**
   * Interval in ms between heartbeat pings to every upgraded socket (RFC 6455 §5.5.2). A socket
   * that has not answered the previous ping with a pong (§5.5.3) is terminated at the next, so a
   * client that sends but never reads is cut off too. `0` disables the heartbeat.
   * @defaultValue 30000
   */
  heartbeatInterval?: number
  /**
   * How long, in ms, a closing handshake may take before the socket is terminated: on
   * `fastify.close()` (close code 1001, RFC 6455 §7.4.1, and pending upgrade requests), after a
   * close for backpressure (1013), and after a close for too many early frames (4205, see
   * `authQueueMaxBytes`).
   * @defaultValue 2000
   */
  closeTimeout?: number
  /**
   * Bytes a socket may hold unsent (ws's `bufferedAmount`, RFC 6455 frames included). When a send
   * leaves more than this, the client is not reading what it is sent: the socket is closed with
   * 1013 Try Again Later, terminated if the closing handshake does not finish within `closeTimeout`,
   * and the close is logged once at warn (FST_COLLAB_SEND_BUFFER_FULL). Applies to every upgraded
   * socket, `fastify.collab` sockets and sockets of `reply.upgrade({ server })` included. A buffer
   * exactly at the limit is allowed. `0` disables the bound.
   * @defaultValue 2 × `ws.maxPayload` (20_971_520 bytes with the default 10 MiB `maxPayload`), so that
   * the first sync of a document as large as the largest message a client may send gets through.
   */
  maxBufferedAmount?: number
  /**
   * The origins a browser may open a WebSocket from (RFC 6455 §10.2): a list of serialised origins
   * (`'https://app.example.com'`, scheme, host and port, RFC 6454), or a function
   * `(origin, request) => boolean`. Another `Origin` is answered with 403 (FST_COLLAB_ORIGIN_FORBIDDEN)
   * before the handshake: this closes cross-site WebSocket hijacking for cookie-authenticated apps.
   * A request without `Origin` is allowed by the list form (browsers always send one, RFC 6455 §4.1:
   * such a client is not a browser, so it carries no cookies it did not choose to send); the function
   * form gets `undefined` and decides. A route's own `allowedOrigins` option replaces this one.
   * @defaultValue every origin is allowed
   * @throws FST_COLLAB_INVALID_OPTION for a list entry that is not a serialised origin.
   */
  allowedOrigins?: AllowedOrigins
  /**
   * Replaces what happens when a route handler throws or rejects after `reply.upgrade()`.
   * The default logs the error with `request.log.error` and closes the socket with
   * 1011 Internal Error (RFC 6455 §7.4.1).
   */
  errorHandler?: UpgradeErrorHandler
}

/**
 * The upgrade options with their defaults applied.
 * @internal
 */
export interface ResolvedUpgradeOptions {
  ws: ServerOptions
  heartbeatInterval: number
  closeTimeout: number
  maxBufferedAmount: number
  allowedOrigins: AllowedOrigins | null
  errorHandler: UpgradeErrorHandler | null
}

/**
 * 10 MiB: large enough for the first sync of a big document, small enough not to be a memory weapon.
 * @internal
 */
export const DEFAULT_MAX_PAYLOAD = 10 * 1024 * 1024

const forbiddenWsOptions = ['server', 'port', 'host', 'path', 'noServer', 'verifyClient', 'backlog', 'WebSocket']

function checkInteger (name: string, value: unknown, unit: string): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new FST_COLLAB_INVALID_OPTION(name, `must be a non-negative integer (${unit})`)
  }
}

/**
 * Checks an `allowedOrigins` value, plugin-wide or a route's.
 * @throws FST_COLLAB_INVALID_OPTION when it is neither a function nor a list of serialised origins.
 * @internal
 */
export function checkAllowedOrigins (name: string, value: unknown): asserts value is AllowedOrigins {
  if (typeof value === 'function') return
  if (!Array.isArray(value)) throw new FST_COLLAB_INVALID_OPTION(name, 'must be a list of origins or a function (origin, request) => boolean')
  for (const entry of value) {
    if (typeof entry !== 'string' || !URL.canParse(entry) || new URL(entry).origin !== entry) {
      throw new FST_COLLAB_INVALID_OPTION(name, `${JSON.stringify(entry)} is not a serialised origin like "https://example.com" (scheme, host, port; lower case; no path)`)
    }
  }
}

/**
 * Validates the upgrade options and applies their defaults.
 * @throws FST_COLLAB_INVALID_OPTION when an option has the wrong type or value.
 * @internal
 */
export function resolveUpgradeOptions (options: UpgradeOptions): ResolvedUpgradeOptions {
  const { ws = {}, heartbeatInterval = 30_000, closeTimeout = 2000, allowedOrigins, errorHandler } = options
  if (typeof ws !== 'object' || ws === null) {
    throw new FST_COLLAB_INVALID_OPTION('ws', 'must be an object of ws ServerOptions')
  }
  for (const key of forbiddenWsOptions) {
    if (key in ws) {
      throw new FST_COLLAB_INVALID_OPTION(`ws.${key}`, 'the plugin handles upgrades itself; use a route and onUpgrade hooks')
    }
  }
  checkInteger('heartbeatInterval', heartbeatInterval, 'ms')
  checkInteger('closeTimeout', closeTimeout, 'ms')
  const maxPayload = ws.maxPayload ?? DEFAULT_MAX_PAYLOAD
  const { maxBufferedAmount = 2 * (maxPayload === 0 ? DEFAULT_MAX_PAYLOAD : maxPayload) } = options
  checkInteger('maxBufferedAmount', maxBufferedAmount, 'bytes')
  if (allowedOrigins !== undefined) checkAllowedOrigins('allowedOrigins', allowedOrigins)
  if (errorHandler !== undefined && typeof errorHandler !== 'function') {
    throw new FST_COLLAB_INVALID_OPTION('errorHandler', 'must be a function (error, socket, request)')
  }
  return {
    ws: { maxPayload, clientTracking: false, ...ws, noServer: true },
    heartbeatInterval,
    closeTimeout,
    maxBufferedAmount,
    allowedOrigins: allowedOrigins ?? null,
    errorHandler: errorHandler ?? null
  }
}
