// The public type surface that Fastify's own types gain from this plugin:
// `declare module 'fastify'` augmentation, in one place. Nothing here is keyed
// by a symbol: internal state stays out of the published typings.
import type { FastifyError } from '@fastify/error'
import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  preValidationAsyncHookHandler,
  preValidationHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface
} from 'fastify'
// Not exported from 'fastify' itself, and needed to merge with FastifyReply's own type parameters.
import type { FastifyReplyType, ResolveFastifyReplyType } from 'fastify/types/type-provider.js'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Collab } from './collab/types.js'
import type { CollabOptions } from './collab/options.js'
import type { HistoryApi, HistoryPluginOptions } from './history/types.js'
import type { MetricsPluginOptions } from './metrics/options.js'
import type { RedisScaleOut } from './scale-out/options.js'
import type { InjectWSOptions } from './upgrade/inject.js'
import type { UpgradeOptions } from './upgrade/options.js'
import type { ReplyUpgradeOptions } from './upgrade/reply-upgrade.js'
import type { AllowedOrigins } from './upgrade/types.js'

/** The scale-out option of the plugin. */
export interface ScaleOutOptions {
  /**
   * Serves each document from exactly one instance among many, through Redis: `redis({ url })` from
   * `fastify-collab/redis`. Needs a store with fencing among the `extensions` (FST_COLLAB_SCALE_OUT_UNFENCED
   * otherwise). Default: none (one instance serves every document it is asked for).
   */
  scaleOut?: RedisScaleOut
}

/** The options of the plugin: the upgrade options, the collaboration options, the scale-out, the history and the metrics, side by side. */
export type FastifyCollabOptions = UpgradeOptions & CollabOptions & ScaleOutOptions & HistoryPluginOptions & MetricsPluginOptions

// Fastify's own (unexported) helpers, same shapes.
type AsyncFunction = (...args: any) => Promise<any>
type UpgradeRouteHook<T extends (this: never, ...args: never[]) => unknown> =
  (this: ThisParameterType<T>, ...args: Parameters<T>) => void | Promise<unknown>

/**
 * An `onUpgrade` hook: the signature of a preValidation hook, `async (request, reply) => {}`
 * or `(request, reply, done) => {}`, with the route's instance as `this`.
 */
export type UpgradeHookFunction<
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
  RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
  ContextConfig = ContextConfigDefault,
  SchemaCompiler extends FastifySchema = FastifySchema,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger
> = preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
  | preValidationAsyncHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>

/**
 * The type of a route's messages: `schema.message` through the route's type provider (as Fastify
 * types `request.body` from `schema.body`); `unknown` without a type provider.
 */
export type UpgradeMessage<TypeProvider extends FastifyTypeProvider, SchemaCompiler extends FastifySchema> =
  (TypeProvider & { schema: SchemaCompiler['message'] })['validator']

/** The 'message' event of a socket whose route has `schema.message`: one argument, the parsed, validated message. */
export interface MessageEvents<Message> {
  on (event: 'message', listener: (this: WebSocket, message: Message) => void): this
  once (event: 'message', listener: (this: WebSocket, message: Message) => void): this
  off (event: 'message', listener: (this: WebSocket, message: Message) => void): this
  addListener (event: 'message', listener: (message: Message) => void): this
  removeListener (event: 'message', listener: (message: Message) => void): this
}

/** A `ws` WebSocket whose 'message' event carries validated messages of type `Message`. */
export type ValidatedWebSocket<Message> = MessageEvents<Message> & WebSocket

/** What `reply.upgrade()` resolves to: a `ws` WebSocket, with typed messages when the route has `schema.message`. */
export type UpgradedWebSocket<TypeProvider extends FastifyTypeProvider, SchemaCompiler extends FastifySchema> =
  undefined extends SchemaCompiler['message'] ? WebSocket : ValidatedWebSocket<UpgradeMessage<TypeProvider, SchemaCompiler>>

declare module 'fastify' {
  interface FastifyInstance<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault
  > {
    /** The `ws` WebSocketServer, in `noServer` mode, that completes every `reply.upgrade()`. */
    websocketServer: WebSocketServer
    /**
     * Adds an onUpgrade hook to this encapsulation context (and its children), typed as Fastify's
     * `addHook('preValidation', hook)`. It runs only for upgrade requests, after the preValidation
     * hooks and before schema validation. An async hook must not take `done`.
     * @returns this instance, for chaining.
     * @throws FST_COLLAB_HOOK_INVALID_HANDLER when `hook` is not a function;
     * FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER when it is async and takes `done`;
     * FST_COLLAB_HOOK_AFTER_READY once the app is ready.
     */
    addUpgradeHook<
      RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
      ContextConfig = ContextConfigDefault,
      SchemaCompiler extends FastifySchema = FastifySchema,
      Fn extends preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
        | preValidationAsyncHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
      = preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
    >(
      hook: Fn extends unknown
        ? Fn extends AsyncFunction
          ? preValidationAsyncHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
          : preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
        : Fn
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
    /**
     * Connects a real `ws` client to this app without `listen()`, for tests.
     * @param path - path and query string, default `/`.
     * @param options - `headers` of the upgrade request, `protocols` for Sec-WebSocket-Protocol, and
     * further `ws` client options as `client`.
     * @returns the open WebSocket; rejects with the client's error ("Unexpected server response: 401")
     * when the server answers over HTTP.
     */
    injectWS(path?: string, options?: InjectWSOptions): Promise<WebSocket>
    /** The Yjs collaboration backend. */
    collab: Collab & HistoryApi
  }

  interface FastifyRequest {
    /** True exactly when the client asked for `Upgrade: websocket` (RFC 6455 §4.1). */
    readonly isUpgrade: boolean
  }

  // Every type parameter of Fastify's own declaration must be repeated to merge with it.
  /* eslint-disable @typescript-eslint/no-unused-vars */
  interface FastifyReply<
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    ReplyType extends FastifyReplyType = ResolveFastifyReplyType<TypeProvider, SchemaCompiler, RouteGeneric>
  > {
    /**
     * Hijacks the reply and completes the WebSocket handshake.
     * @throws FST_COLLAB_NOT_UPGRADE_REQUEST (426) on a plain HTTP request; FST_COLLAB_ORIGIN_FORBIDDEN (403)
     * when `allowedOrigins` refuses the `Origin`; FST_COLLAB_BAD_HANDSHAKE (400) and FST_COLLAB_UNSUPPORTED_VERSION
     * (426) on an invalid handshake; FST_COLLAB_CLOSING (503) while closing; FST_COLLAB_REPLY_ALREADY_SENT when
     * called twice or after a reply.
     * @returns the `ws` WebSocket once the 101 is written (its 'message' event carries validated messages when
     * the route has `schema.message`); rejects with FST_COLLAB_UPGRADE_ABORTED if the client is gone before that.
     * Frames the client sends before the first 'message' listener (or `fastify.collab.handleConnection`) are held
     * and delivered to it in order, so the handler may await first; past `authQueueMaxBytes` or
     * `authQueueMaxFrames` the socket closes with 4205 (FST_COLLAB_EARLY_FRAMES_FULL, logged).
     */
    upgrade(options?: ReplyUpgradeOptions): Promise<UpgradedWebSocket<TypeProvider, SchemaCompiler>>
  }
  /* eslint-enable @typescript-eslint/no-unused-vars */

  interface FastifySchema {
    /**
     * The schema of each message a route's WebSocket receives (JSON text or binary frames carrying
     * JSON), compiled with the route's validator compiler. See `reply.upgrade()` and `onInvalidMessage`.
     */
    message?: unknown
  }

  interface RouteShorthandOptions<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > {
    /**
     * Hooks that run only for upgrade requests to this route, after the context's
     * onUpgrade hooks: a function or an array, with the signature of a preValidation
     * hook. A hook may reply (this stops the chain) or throw (Fastify's error handler
     * answers over HTTP).
     */
    onUpgrade?: UpgradeRouteHook<preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric,
      ContextConfig, NoInfer<SchemaCompiler>, TypeProvider, Logger>>
      | UpgradeRouteHook<preValidationHookHandler<RawServer, RawRequest, RawReply, RouteGeneric,
        ContextConfig, NoInfer<SchemaCompiler>, TypeProvider, Logger>>[]
    /** Replaces the plugin's `allowedOrigins` for this route (see the plugin option). */
    allowedOrigins?: AllowedOrigins
    /**
     * Handles a message that is not JSON (FST_COLLAB_INVALID_MESSAGE_JSON) or fails `schema.message`
     * (Fastify's FST_ERR_VALIDATION), instead of the default: close with 1007. The socket stays open
     * unless the handler closes it. A throw or a rejection is logged and closes the socket with 1011.
     */
    onInvalidMessage?: (
      error: FastifyError,
      socket: UpgradedWebSocket<TypeProvider, NoInfer<SchemaCompiler>>,
      request: FastifyRequest<RouteGeneric, RawServer, RawRequest, NoInfer<SchemaCompiler>, TypeProvider, ContextConfig, Logger>
    ) => void | Promise<void>
  }
}
