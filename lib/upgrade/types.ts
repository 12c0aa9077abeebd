// The shapes the upgrade layer's modules share, in a leaf module so that
// imports flow one way. Internal state lives under the symbols of
// lib/symbols.ts; these types name it without augmenting Fastify's or Node's
// typings, so none of it reaches the published declarations.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import type { WebSocket } from 'ws'
import type { kRouteUpgrade, kSocketAlive, kSocketLog, kUpgrade, kUpgradeContext } from '../symbols.js'

/**
 * An `onUpgrade` hook as the runner calls it: the signature of a preValidation
 * hook, `async (request, reply) => {}` or `(request, reply, done) => {}`, with
 * the route's instance as `this`. The public, generic typing is in augment.ts.
 * @internal
 */
export type RunnableUpgradeHook = (
  this: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction
) => unknown

/**
 * What one encapsulation context holds under kUpgradeContext.
 * @internal
 */
export interface UpgradeContext {
  /** Its onUpgrade hooks (`addUpgradeHook`), a copy of its parent's at registration. */
  hooks: RunnableUpgradeHook[]
  /**
   * Its GET routes declared while no onUpgrade hook applied to them: they got
   * no runner, and get one if the context gains a hook before the app is ready.
   */
  bareRoutes: Array<RouteOptions & { onUpgrade?: unknown }>
}

/** @internal */
export type ContextInstance = FastifyInstance & { [kUpgradeContext]: UpgradeContext }

/**
 * The `allowedOrigins` option, plugin-wide or per route: a list of origins
 * (RFC 6454 serialisation, `https://example.com:8443`), or a function of the
 * request's `Origin` header (`undefined` when the client sent none).
 */
export type AllowedOrigins = readonly string[] | ((origin: string | undefined, request: FastifyRequest) => boolean)

/**
 * The `onInvalidMessage` route option: handles a message that is not JSON or fails `schema.message`.
 * @internal
 */
export type InvalidMessageHandler = (error: FastifyError, socket: WebSocket, request: FastifyRequest) => void | Promise<void>

/**
 * A compiled `schema.message` validator, with the conventions of Fastify's validator compilers.
 * @internal
 */
export type MessageValidator = ((data: unknown, context?: { parentData: object, parentDataProperty: string }) => unknown) & {
  errors?: unknown
  schemaEnv?: unknown
}

/**
 * A route's `schema.message`, its compiled validator and what handles an invalid message.
 * @internal
 */
export interface MessageRoute {
  readonly schema: unknown
  /** Compiled at boot when the route's validator compiler exists by then, else at the first upgrade. */
  validate: MessageValidator | null
  readonly onInvalidMessage: InvalidMessageHandler | null
}

/**
 * A route with `schema.message`, to compile once the app is ready (see compileMessageSchemas).
 * @internal
 */
export interface MessageSchemaRoute {
  instance: FastifyInstance
  url: string
  validatorCompiler: RouteOptions['validatorCompiler']
  messages: MessageRoute
}

/**
 * What an upgrade request needs to know of its route, kept in the route's `config` under kRouteUpgrade.
 * @internal
 */
export interface RouteUpgrade {
  /** The route's own `allowedOrigins`, or the plugin's; null when every origin is allowed. */
  readonly allowedOrigins: AllowedOrigins | null
  /** Null when the route has no `schema.message`: the app gets ws's raw frames. */
  readonly messages: MessageRoute | null
}

/**
 * What the plugin knows of one upgrade request, from the 'upgrade' event on,
 * kept on the raw request under kUpgrade. A plain request has none.
 * @internal
 */
export interface UpgradeRequest {
  /** The bytes read past the request head (ws's `head`), then what the client sent before the 101. */
  head: Buffer
  /** The 'data' listener that keeps the socket read while slow hooks run; null until then, and once ws reads it. */
  collect: ((chunk: Buffer) => void) | null
  /** The route's upgrade settings, set by its handler wrapper; null before the handler runs. */
  route: RouteUpgrade | null
  /** Settles with the WebSocket, from the moment `reply.upgrade()` hijacks the reply. */
  promise: Promise<WebSocket> | null
  /** The WebSocket, once the 101 is written. */
  socket: WebSocket | null
  /** Extra 101 headers from `reply.upgrade({ headers })`, read by the server's 'headers' listener. */
  responseHeaders: OutgoingHttpHeaders | null
  /** The handshake error ws found after the hijack, answered with 400 (FST_COLLAB_BAD_HANDSHAKE). */
  handshakeError: FastifyError | null
}

/** @internal */
export type RouteUpgradeConfig = { [kRouteUpgrade]?: RouteUpgrade }

/** @internal */
export type UpgradeIncomingMessage = IncomingMessage & { [kUpgrade]?: UpgradeRequest }

/**
 * An upgraded socket as the registry keeps it.
 * @internal
 */
export interface TrackedSocket extends WebSocket {
  /** The logger of the request the socket came from: Fastify's request child logger. */
  [kSocketLog]: FastifyBaseLogger
  /** False from a heartbeat ping until its pong. */
  [kSocketAlive]: boolean
  /** ws's own reference to the TCP socket. */
  _socket: Socket
}
