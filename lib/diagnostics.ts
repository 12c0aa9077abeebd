// Every diagnostics_channel of the package, named once (Node's
// `node:diagnostics_channel`, as Fastify core publishes its requests). A leaf:
// the modules that publish import their channel from here, and so do
// subscribers such as lib/metrics/ or an OpenTelemetry instrumentation.
//
// Publishing costs nothing while nobody listens: every call site checks the
// channel's `hasSubscribers` before it builds a payload. Operations with a
// duration are TracingChannels (`tracing:<name>:start`, `:end`, `:asyncStart`,
// `:asyncEnd`, `:error`, run with `tracePromise`, so a subscriber's
// AsyncLocalStorage store follows the operation); events are plain channels.
// Payloads carry names a trace may want (a document name, a socket id); the
// metrics built on them never use those as labels.

import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import type { HookName, LimitName } from './names.js'

/** Every channel name of fastify-collab. Operations (TracingChannels) are marked; subscribe to them with `diagnostics_channel.tracingChannel(name)`. */
export const channelNames = {
  /** Event: an upgrade request got its answer (the 101, an HTTP status, or 499 when the client left first). */
  upgrade: 'fastify-collab:upgrade',
  /** Event: an upgraded socket closed. */
  socketClose: 'fastify-collab:socket:close',
  /** Event: a bound refused something (a limit of the collab core, `maxBufferedAmount`, `allowedOrigins`). */
  limit: 'fastify-collab:limit',
  /** Operation: one hook chain (every extension's hook of one name, then the top-level one) for one event. */
  hook: 'fastify-collab:hook',
  /** Operation: a document's load (onLoadDocument and afterLoadDocument). */
  documentLoad: 'fastify-collab:document:load',
  /** Event: a Hocuspocus SyncStatus answered an update. */
  updateAck: 'fastify-collab:update:ack',
  /** Operation: one call of a storage extension to its store (`load`, `claim`, `append`: a group commit, `compact`). */
  store: 'fastify-collab:store',
  /** Event: a group commit failed and is retried later. */
  storeRetry: 'fastify-collab:store:retry',
  /** Event (scale-out): this instance began or stopped owning a document. */
  ownership: 'fastify-collab:scale-out:ownership',
  /** Event (scale-out): sessions shared with other instances were reset, their clients resync. */
  sessionsReset: 'fastify-collab:scale-out:reset',
  /** Event (scale-out): a message went to or came from another instance through Redis. */
  link: 'fastify-collab:scale-out:message'
} as const

export type { HookName, LimitName } from './names.js'

/**
 * The app an event comes from: its `fastify.collab`. Compare it by identity (`event.instance === app.collab`)
 * to tell apps in one process apart; `instanceId` names it in logs and across instances.
 */
export interface InstanceIdentity {
  readonly instanceId: string
}

/** `fastify-collab:upgrade`. */
export interface UpgradeEvent {
  /** The app's `fastify.collab`: tells apps in one process apart. */
  instance: InstanceIdentity
  request: IncomingMessage
  /** 101 Switching Protocols, the HTTP status of the refusal, or 499 when the client left before the handshake completed. */
  statusCode: number
}

/** `fastify-collab:socket:close`. */
export interface SocketCloseEvent {
  instance: InstanceIdentity
  socket: WebSocket
  /** The close code (RFC 6455 §7.4.1): the one the closing handshake carried, 1005 without one, 1006 when the connection dropped. */
  code: number
}

/** `fastify-collab:limit`. */
export interface LimitEvent {
  instance: InstanceIdentity
  limit: LimitName
}

/** The context of `tracing:fastify-collab:hook:*`. `error` is set on failure (a refusal, for onConnect/onAuthenticate). */
export interface HookTrace {
  instance: InstanceIdentity
  hook: HookName
  /** Undefined for onDestroy. */
  documentName: string | undefined
  error?: unknown
}

/** The context of `tracing:fastify-collab:document:load:*`. */
export interface DocumentLoadTrace {
  instance: InstanceIdentity
  documentName: string
  /** The fencing epoch of this instance's claim (scale-out), else undefined. */
  epoch: number | undefined
  error?: unknown
}

/** `fastify-collab:update:ack`. */
export interface UpdateAckEvent {
  instance: InstanceIdentity
  documentName: string
  socketId: string
  /** Whether the SyncStatus says applied (1) or refused (0). */
  applied: boolean
  /** Time in ms from the session handling the update (after beforeHandleMessage) to its SyncStatus. */
  durationMs: number
}

/** What a storage call is. */
export type StoreOperation = 'load' | 'claim' | 'append' | 'compact'

/** The context of `tracing:fastify-collab:store:*`. */
export interface StoreTrace {
  /** Undefined until a hook of the storage extension has run with an `instance`. */
  instance: InstanceIdentity | undefined
  operation: StoreOperation
  /** load, claim and compact: the document. */
  documentName: string | undefined
  /** append: the updates of the group commit (its batch size); compact: 0; else undefined. */
  updates: number | undefined
  /** append: the bytes of those updates; compact: the snapshot's bytes. */
  bytes: number | undefined
  error?: unknown
}

/** `fastify-collab:store:retry`. */
export interface StoreRetryEvent {
  instance: InstanceIdentity | undefined
  /** Updates kept in memory for the retry. */
  updates: number
  /** Time in ms before the next attempt. */
  delayMs: number
  error: unknown
}

/** What changed in `fastify-collab:scale-out:ownership`. */
export type OwnershipChange = 'claimed' | 'released' | 'lost'

/** `fastify-collab:scale-out:ownership`. */
export interface OwnershipEvent {
  instance: InstanceIdentity
  documentName: string
  epoch: number
  change: OwnershipChange
  /** lost: why (another holder, no renewal confirmed in time, a write the store refused). */
  reason: string | undefined
}

/**
 * Why sessions shared with other instances were reset: a gap in a link's sequence numbers, an undecodable
 * message, this instance's subscriber reconnected (or was not subscribed), the other instance is unreachable
 * (nobody listens on its channel), it stalled (its heartbeat lapsed and it sent nothing for
 * `heartbeatTimeout`; it is told), a publish failed, or more than `maxLinkBytes` waited for it.
 */
export type ResetReason = 'gap' | 'undecodable' | 'subscriber' | 'unreachable' | 'stalled' | 'publish' | 'overflow'

/** `fastify-collab:scale-out:reset`. */
export interface SessionsResetEvent {
  instance: InstanceIdentity
  reason: ResetReason
  /** The other instance, or undefined when every cross-instance session was reset (`subscriber`). */
  peer: string | undefined
  /** Sessions reset: proxied to owners elsewhere plus served for other instances. */
  sessions: number
}

/** `fastify-collab:scale-out:message`. */
export interface LinkMessageEvent {
  instance: InstanceIdentity
  direction: 'in' | 'out'
  /** The other instance's id. */
  peer: string
  /** The message's bytes (one PUBLISH). */
  bytes: number
}

/** @internal */
export const upgradeChannel = channel(channelNames.upgrade)
/** @internal */
export const socketCloseChannel = channel(channelNames.socketClose)
/** @internal */
export const limitChannel = channel(channelNames.limit)
/** @internal */
export const hookChannel = tracingChannel<unknown, HookTrace>(channelNames.hook)
/** @internal */
export const documentLoadChannel = tracingChannel<unknown, DocumentLoadTrace>(channelNames.documentLoad)
/** @internal */
export const updateAckChannel = channel(channelNames.updateAck)
/** @internal */
export const storeChannel = tracingChannel<unknown, StoreTrace>(channelNames.store)
/** @internal */
export const storeRetryChannel = channel(channelNames.storeRetry)
/** @internal */
export const ownershipChannel = channel(channelNames.ownership)
/** @internal */
export const sessionsResetChannel = channel(channelNames.sessionsReset)
/** @internal */
export const linkChannel = channel(channelNames.link)

/**
 * Publishes on `fastify-collab:limit`, when anyone listens.
 * @internal
 */
export function publishLimit (instance: InstanceIdentity, limit: LimitName): void {
  if (limitChannel.hasSubscribers) limitChannel.publish({ instance, limit } satisfies LimitEvent)
}
