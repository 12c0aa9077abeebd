import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { WebSocketServer } from 'ws'
import type { FastifyCollabOptions } from './augment.js'
import { createCollab } from './collab/collab.js'
import { historyOf } from './history/versions.js'
import { startScaleOut } from './scale-out/start.js'
import { FST_COLLAB_WEBSOCKET_CONFLICT } from './errors.js'
import { resolveMetricsOptions } from './metrics/options.js'
import { startMetrics } from './metrics/start.js'
import { kUpgradeContext } from './symbols.js'
import { createInjectWS } from './upgrade/inject.js'
import { createUpgradeListener } from './upgrade/listener.js'
import { isUpgradeRequest } from './upgrade/request.js'
import { compileMessageSchemas } from './upgrade/messages.js'
import { resolveUpgradeOptions } from './upgrade/options.js'
import { createReplyUpgrade, createUpgradedErrorHandler, prepareServer } from './upgrade/reply-upgrade.js'
import { createOnRoute } from './upgrade/route.js'
import type { MessageSchemaRoute } from './upgrade/types.js'
import { Sockets } from './upgrade/sockets.js'
import { copyUpgradeContext, createAddUpgradeHook, createUpgradeContext } from './upgrade/upgrade-hooks.js'

const plugin: FastifyPluginAsync<FastifyCollabOptions> = async function fastifyCollab (fastify: FastifyInstance, options) {
  // Registered before us: say so plainly. Registered after us, its own
  // `websocketServer` decorator collides with ours and boot fails all the same.
  if (fastify.hasPlugin('@fastify/websocket')) throw new FST_COLLAB_WEBSOCKET_CONFLICT()
  const upgradeOptions = resolveUpgradeOptions(options)
  const metricsOptions = resolveMetricsOptions(options.metrics)
  const history = historyOf(options.history, options.extensions)
  const { collab, core, close, destroy } = createCollab(fastify, history === null ? options : { ...options, extensions: [...options.extensions ?? [], history.extension] })
  const { authQueueMaxBytes, authQueueMaxFrames } = core.options.limits
  const sockets = new Sockets({ ...upgradeOptions, authQueueMaxBytes, authQueueMaxFrames }, collab)
  const wss = new WebSocketServer({ ...upgradeOptions.ws, WebSocket: sockets.WebSocket })
  prepareServer(wss)
  const { onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig
  const parse = fastify.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error')
  const messageRoutes: MessageSchemaRoute[] = []

  fastify.decorate('websocketServer', wss)
  fastify.decorate(kUpgradeContext, createUpgradeContext())
  let ready = false
  fastify.addHook('onReady', async () => {
    ready = true
    compileMessageSchemas(messageRoutes)
  })
  fastify.decorate('addUpgradeHook', createAddUpgradeHook(() => ready))
  fastify.decorate('injectWS', createInjectWS(fastify))
  // A getter on the prototype: a plain request pays nothing for it.
  fastify.decorateRequest('isUpgrade', { getter: isUpgradeRequest })
  fastify.decorateReply('upgrade', createReplyUpgrade(wss, sockets, { allowedOrigins: upgradeOptions.allowedOrigins, parse }))
  fastify.addHook('onRegister', copyUpgradeContext)
  fastify.addHook('onRoute', createOnRoute(upgradeOptions.allowedOrigins, createUpgradedErrorHandler(upgradeOptions.errorHandler), messageRoutes))

  const listener = createUpgradeListener(fastify, sockets)
  fastify.server.on('upgrade', listener)
  // preClose hooks run in the order they were added: the documents are handed over, and the collab
  // sockets told 1012, before every other upgraded socket gets 1001.
  fastify.addHook('preClose', close)
  fastify.addHook('preClose', () => sockets.close())
  fastify.addHook('onClose', (_instance, done) => {
    fastify.server.removeListener('upgrade', listener)
    wss.close(() => done())
  })
  fastify.addHook('onClose', destroy)
  fastify.decorate('collab', Object.assign(collab, { versions: history?.bind(collab) }))
  if (options.scaleOut !== undefined) core.router = await startScaleOut(core, options.scaleOut, options.extensions)
  if (metricsOptions !== null) await startMetrics(fastify, metricsOptions, { collab, core, sockets })
}

/**
 * The fastify-collab plugin: WebSocket upgrades as ordinary Fastify requests
 * (`reply.upgrade()`, `onUpgrade` hooks, `request.isUpgrade`), and `fastify.collab`,
 * a Yjs collaboration backend for y-websocket and Hocuspocus clients.
 * @throws FST_COLLAB_INVALID_OPTION at registration on an invalid option;
 * FST_COLLAB_WEBSOCKET_CONFLICT when @fastify/websocket is registered in the same app;
 * FST_COLLAB_METRICS_MISSING and FST_COLLAB_METRICS_CONFLICT for the `metrics` option.
 */
export const fastifyCollab = fp(plugin, { fastify: '5.x', name: 'fastify-collab' })
export default fastifyCollab

export type { FastifyCollabOptions, MessageEvents, UpgradedWebSocket, UpgradeHookFunction, UpgradeMessage, ValidatedWebSocket } from './augment.js'
export type { Collab, CollabDocument, CollabOrigin, CollabRequest, DirectConnection, RemoteOrigin, RemoteRequest, Session } from './collab/types.js'
export type { CollabOptions, CollabProtocol } from './collab/options.js'
export type { LimitOptions } from './collab/limits.js'
export type {
  AfterUnloadPayload, AuthenticatePayload, AwarenessPayload, ChangePayload, ConnectedPayload, ConnectionConfig,
  ConnectionPayload, DestroyPayload, DisconnectPayload, Extension, HookContext, HookName, Hooks, LoadPayload,
  MessagePayload, StatelessPayload, StorePayload, UnloadPayload
} from './collab/hooks.js'
export { CloseCode, type CloseCodeValue } from './close-codes.js'
export type { InjectWSOptions } from './upgrade/inject.js'
export type { UpgradeErrorHandler, UpgradeOptions, WebSocketServerOptions } from './upgrade/options.js'
export type { ReplyUpgradeOptions } from './upgrade/reply-upgrade.js'
export type { AllowedOrigins } from './upgrade/types.js'
export type { MetricsOptions, MetricsPluginOptions, MetricsRegistry } from './metrics/options.js'
export {
  channelNames,
  type DocumentLoadTrace, type HookTrace, type InstanceIdentity, type LimitEvent, type LimitName, type LinkMessageEvent, type OwnershipChange, type OwnershipEvent,
  type ResetReason, type SessionsResetEvent, type SocketCloseEvent, type StoreOperation, type StoreRetryEvent, type StoreTrace,
  type UpdateAckEvent, type UpgradeEvent
} from './diagnostics.js'
// The storage-agnostic durable store: implement CollabStorage (Postgres, S3, ...)
// and wrap it with storageExtension. The SQLite one is `fastify-collab/sqlite`.
export { storageExtension, type StorageExtension, type StorageExtensionOptions } from './storage/extension.js'
export type { CollabStorage, LogEntry, StoredDocument } from './storage/storage.js'
export { conflictError, fencedError, isConflict, isFenced, type ConflictError, type FencedError } from './fence.js'
export type { RetryOptions } from './storage/group-commit.js'
export { importDocuments, type ImportedDocument, type ImportOptions, type ImportResult } from './storage/import.js'
export type { NewVersion, StoredVersion, VersionInfo, VersionReason } from './storage/storage.js'
// Document history (versions): createVersions(...).extension among the extensions, .bind(fastify.collab) for the API.
export * from './history/index.js'
export * from './errors.js'
