import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyRequest,
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
import fp from 'fastify-plugin'
import { WebSocketServer, type WebSocket } from 'ws'
import { createCollab, type Collab } from './collab/collab.js'
import type { CollabOptions } from './collab/options.js'
import { FST_COLLAB_WEBSOCKET_CONFLICT } from './errors.js'
import { kUpgradeHead, kUpgradeHooks, kUpgradeState } from './symbols.js'
import { createInjectWS, type InjectWSOptions } from './upgrade/inject.js'
import { createUpgradeListener } from './upgrade/listener.js'
import { resolveUpgradeOptions, type UpgradeOptions } from './upgrade/options.js'
import { addResponseHeaders, createReplyUpgrade, createUpgradedErrorHandler, type ReplyUpgradeOptions } from './upgrade/reply-upgrade.js'
import { createOnRoute } from './upgrade/route.js'
import { Sockets } from './upgrade/sockets.js'
import { addUpgradeHook, copyUpgradeHooks, type UpgradeHookFunction } from './upgrade/upgrade-hooks.js'

/** The options of the plugin: the upgrade options and the collaboration options, side by side. */
export type FastifyCollabOptions = UpgradeOptions & CollabOptions

// Same shape as Fastify's own (unexported) RouteShorthandHook.
type UpgradeRouteHook<T extends (this: any, ...args: any) => any> =
  (this: ThisParameterType<T>, ...args: Parameters<T>) => void | Promise<unknown>

declare module 'fastify' {
  interface FastifyInstance {
    /** The `ws` WebSocketServer, in `noServer` mode, that completes every `reply.upgrade()`. */
    websocketServer: WebSocketServer
    /**
     * Adds an onUpgrade hook to this encapsulation context (and its children), with the
     * signature of a preValidation hook. It runs only for upgrade requests, after the
     * preValidation hooks and before schema validation.
     * @throws FST_COLLAB_INVALID_OPTION when `hook` is not a function.
     */
    addUpgradeHook(hook: UpgradeHookFunction): FastifyInstance
    /**
     * Connects a real `ws` client to this app without `listen()`, for tests.
     * @param path - path and query string, default `/`.
     * @returns the open WebSocket; rejects with the client's error when the server answers over HTTP.
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

function isUpgrade (this: FastifyRequest): boolean {
  return this.raw[kUpgradeHead] !== undefined
}

const plugin: FastifyPluginAsync<FastifyCollabOptions> = async function fastifyCollab (fastify: FastifyInstance, options) {
  // Registered before us: say so plainly. Registered after us, its own
  // `websocketServer` decorator collides with ours and boot fails all the same.
  if (fastify.hasPlugin('@fastify/websocket')) throw new FST_COLLAB_WEBSOCKET_CONFLICT()
  const upgradeOptions = resolveUpgradeOptions(options)
  const sockets = new Sockets(upgradeOptions.heartbeatInterval, upgradeOptions.closeTimeout)
  const wss = new WebSocketServer(upgradeOptions.ws)
  wss.on('headers', addResponseHeaders)

  fastify.decorate('websocketServer', wss)
  fastify.decorate(kUpgradeHooks, [] as UpgradeHookFunction[])
  fastify.decorate('addUpgradeHook', addUpgradeHook)
  fastify.decorate('injectWS', createInjectWS(fastify))
  fastify.decorateRequest('isUpgrade', { getter: isUpgrade })
  fastify.decorateReply(kUpgradeState, null)
  fastify.decorateReply('upgrade', createReplyUpgrade(wss, sockets))
  fastify.addHook('onRegister', copyUpgradeHooks)
  fastify.addHook('onRoute', createOnRoute(createUpgradedErrorHandler(upgradeOptions.errorHandler)))

  const listener = createUpgradeListener(fastify, sockets)
  fastify.server.on('upgrade', listener)
  fastify.addHook('preClose', () => sockets.close())
  fastify.addHook('onClose', (_instance, done) => {
    fastify.server.removeListener('upgrade', listener)
    wss.close(() => done())
  })

  fastify.decorate('collab', createCollab(fastify, options))
}

/**
 * The fastify-collab plugin: WebSocket upgrades as ordinary Fastify requests
 * (`reply.upgrade()`, `onUpgrade` hooks, `request.isUpgrade`), and `fastify.collab`,
 * a Yjs collaboration backend for y-websocket and Hocuspocus clients.
 * @throws FST_COLLAB_INVALID_OPTION at registration on an invalid option;
 * FST_COLLAB_WEBSOCKET_CONFLICT when @fastify/websocket is registered in the same app.
 */
export const fastifyCollab = fp(plugin, { fastify: '5.x', name: 'fastify-collab' })
export default fastifyCollab

export type { Collab } from './collab/collab.js'
export type { CollabOptions } from './collab/options.js'
export type { InjectWSOptions } from './upgrade/inject.js'
export type { UpgradeErrorHandler, UpgradeOptions, WebSocketServerOptions } from './upgrade/options.js'
export type { ReplyUpgradeOptions } from './upgrade/reply-upgrade.js'
export type { UpgradeHookFunction } from './upgrade/upgrade-hooks.js'
// The storage-agnostic durable store: implement CollabStorage (Postgres, S3, ...)
// and wrap it with storageExtension. The SQLite one is `fastify-collab/sqlite`.
export { storageExtension, type StorageExtension, type StorageExtensionOptions } from './storage/extension.js'
export type { CollabStorage, LogEntry, StoredDocument } from './storage/storage.js'
export type { RetryOptions } from './storage/group-commit.js'
export * from './errors.js'
