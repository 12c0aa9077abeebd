// The public type surface that Fastify's own types gain from this plugin:
// `declare module 'fastify'` augmentation, in one place.
import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  preValidationHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface
} from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Collab } from './collab/types.js'
import type { CollabOptions } from './collab/options.js'
import type { RedisScaleOut } from './scale-out/options.js'
import type { InjectWSOptions } from './upgrade/inject.js'
import type { UpgradeOptions } from './upgrade/options.js'
import type { ReplyUpgradeOptions } from './upgrade/reply-upgrade.js'
import type { UpgradeHookFunction } from './upgrade/upgrade-hooks.js'

/** The scale-out option of the plugin. */
export interface ScaleOutOptions {
  /**
   * Serves each document from exactly one instance among many, through Redis: `redis({ url })` from
   * `fastify-collab/redis`. Needs a store with fencing among the `extensions` (FST_COLLAB_SCALE_OUT_UNFENCED
   * otherwise). Default: none (one instance serves every document it is asked for).
   */
  scaleOut?: RedisScaleOut
}

/** The options of the plugin: the upgrade options, the collaboration options and the scale-out, side by side. */
export type FastifyCollabOptions = UpgradeOptions & CollabOptions & ScaleOutOptions

// Same shape as Fastify's own (unexported) RouteShorthandHook.
type UpgradeRouteHook<T extends (this: never, ...args: never[]) => unknown> =
  (this: ThisParameterType<T>, ...args: Parameters<T>) => void | Promise<unknown>

declare module 'fastify' {
  interface FastifyInstance {
    /** The `ws` WebSocketServer, in `noServer` mode, that completes every `reply.upgrade()`. */
    websocketServer: WebSocketServer
    /**
     * Adds an onUpgrade hook to this encapsulation context (and its children), with the
     * signature of a preValidation hook. It runs only for upgrade requests, after the
     * preValidation hooks and before schema validation.
     * @throws FST_COLLAB_INVALID_OPTION when `hook` is not a function, is async and takes `done`,
     * or the app is already ready.
     */
    addUpgradeHook(hook: UpgradeHookFunction): FastifyInstance
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
    collab: Collab
  }

  interface FastifyRequest {
    /** True exactly when the client asked for `Upgrade: websocket` (RFC 6455 §4.1). */
    readonly isUpgrade: boolean
  }

  interface FastifyReply {
    /**
     * Hijacks the reply and completes the WebSocket handshake.
     * @throws FST_COLLAB_NOT_UPGRADE_REQUEST (426) on a plain HTTP request; FST_COLLAB_BAD_HANDSHAKE (400)
     * and FST_COLLAB_UNSUPPORTED_VERSION (426) on an invalid handshake; FST_COLLAB_CLOSING (503) while closing;
     * FST_COLLAB_REPLY_ALREADY_SENT when called twice or after a reply.
     * @returns the `ws` WebSocket once the 101 is written; rejects with FST_COLLAB_UPGRADE_ABORTED if the
     * client is gone before that.
     */
    upgrade(options?: ReplyUpgradeOptions): Promise<WebSocket>
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
  }
}
