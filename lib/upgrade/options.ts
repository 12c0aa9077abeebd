import type { FastifyRequest } from 'fastify'
import type { ServerOptions, WebSocket } from 'ws'
import { FST_COLLAB_INVALID_OPTION } from '../errors.js'

/**
 * Options of the `ws` WebSocketServer that the plugin creates in `noServer` mode.
 * Everything of ws's `ServerOptions` is passed through, except what would let
 * `ws` handle the upgrade itself: `server`, `port`, `host`, `path`, `noServer` and
 * `verifyClient`. Use routes and `onUpgrade` hooks for those.
 */
export type WebSocketServerOptions = Omit<ServerOptions, 'server' | 'port' | 'host' | 'path' | 'noServer' | 'verifyClient' | 'backlog'>

/**
 * Handles an error thrown or rejected by a route handler after `reply.upgrade()`.
 *
 * @param error - what the handler threw or rejected with.
 * @param socket - the upgraded `ws` WebSocket.
 * @param request - the Fastify request of the upgrade.
 */
export type UpgradeErrorHandler = (error: unknown, socket: WebSocket, request: FastifyRequest) => void

/** The upgrade options of the plugin. */
export interface UpgradeOptions {
  /**
   * Passed to the `ws` WebSocketServer (`maxPayload`, `perMessageDeflate`, `handleProtocols`, ...).
   * `maxPayload` defaults to 10 MiB (10_485_760 bytes) instead of ws's 100 MiB: a larger
   * incoming message closes its socket with 1009 Message Too Big (RFC 6455 §7.4.1).
   * @throws FST_COLLAB_INVALID_OPTION for `server`, `port`, `host`, `path`, `noServer` or `verifyClient`.
   */
  ws?: WebSocketServerOptions
  /**
   * Interval in ms between heartbeat pings to every upgraded socket (RFC 6455 §5.5.2). A socket
   * that has read nothing since the previous ping (neither the pong nor any other frame) is
   * terminated at the next. `0` disables the heartbeat.
   * @defaultValue 30000
   */
  heartbeatInterval?: number
  /**
   * How long, in ms, `fastify.close()` waits for upgraded sockets to finish their closing
   * handshake (close code 1001, RFC 6455 §7.4.1) and for pending upgrade requests to end, before it
   * terminates what is left.
   * @defaultValue 2000
   */
  closeTimeout?: number
  /**
   * Replaces what happens when a route handler throws or rejects after `reply.upgrade()`.
   * The default logs the error with `request.log.error` and closes the socket with
   * 1011 Internal Error (RFC 6455 §7.4.1).
   */
  errorHandler?: UpgradeErrorHandler
}

/** The upgrade options with their defaults applied. */
export interface ResolvedUpgradeOptions {
  ws: ServerOptions
  heartbeatInterval: number
  closeTimeout: number
  errorHandler: UpgradeErrorHandler | null
}

/** 10 MiB: large enough for the first sync of a big document, small enough not to be a memory weapon. */
export const DEFAULT_MAX_PAYLOAD = 10 * 1024 * 1024

const forbiddenWsOptions = ['server', 'port', 'host', 'path', 'noServer', 'verifyClient', 'backlog']

/**
 * Validates the upgrade options and applies their defaults.
 * @throws FST_COLLAB_INVALID_OPTION when an option has the wrong type or value.
 */
export function resolveUpgradeOptions (options: UpgradeOptions): ResolvedUpgradeOptions {
  const { ws = {}, heartbeatInterval = 30_000, closeTimeout = 2000, errorHandler } = options
  if (typeof ws !== 'object' || ws === null) {
    throw new FST_COLLAB_INVALID_OPTION('ws', 'must be an object of ws ServerOptions')
  }
  for (const key of forbiddenWsOptions) {
    if (key in ws) {
      throw new FST_COLLAB_INVALID_OPTION(`ws.${key}`, 'the plugin handles upgrades itself; use a route and onUpgrade hooks')
    }
  }
  if (!Number.isInteger(heartbeatInterval) || heartbeatInterval < 0) {
    throw new FST_COLLAB_INVALID_OPTION('heartbeatInterval', 'must be a non-negative integer (ms)')
  }
  if (!Number.isInteger(closeTimeout) || closeTimeout < 0) {
    throw new FST_COLLAB_INVALID_OPTION('closeTimeout', 'must be a non-negative integer (ms)')
  }
  if (errorHandler !== undefined && typeof errorHandler !== 'function') {
    throw new FST_COLLAB_INVALID_OPTION('errorHandler', 'must be a function (error, socket, request)')
  }
  return {
    ws: { maxPayload: DEFAULT_MAX_PAYLOAD, ...ws, noServer: true },
    heartbeatInterval,
    closeTimeout,
    errorHandler: errorHandler ?? null
  }
}
