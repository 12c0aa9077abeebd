// What the upgrade layer's files share about one upgrade request: whether it
// is one, what the listener marked on it, and how its answer is published.
// The listener, reply.upgrade(), the route wrapper and the onUpgrade chain all
// read it from here, so none of them imports another.

import type { IncomingMessage } from 'node:http'
import type { FastifyRequest } from 'fastify'
import { type InstanceIdentity, upgradeChannel, type UpgradeEvent } from '../diagnostics.js'
import { kUpgrade } from '../symbols.js'
import type { UpgradeIncomingMessage, UpgradeRequest } from './types.js'

/** True when an `Upgrade` header value names the WebSocket protocol (RFC 6455 §4.1, case-insensitive). */
export function isWebSocketUpgrade (upgrade: string | undefined): boolean {
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket'
}

/** What the plugin knows of this request if it is a WebSocket upgrade request; undefined for a plain one. */
export function upgradeOf (raw: IncomingMessage): UpgradeRequest | undefined {
  return (raw as UpgradeIncomingMessage)[kUpgrade]
}

/**
 * The `request.isUpgrade` getter: true exactly when the request came through the
 * server's 'upgrade' event with `Upgrade: websocket`, as the listener marks it.
 */
export function isUpgradeRequest (this: FastifyRequest): boolean {
  return upgradeOf(this.raw) !== undefined
}

/**
 * Node 20 gives an upgrade socket no 'error' listener, so an ECONNRESET while
 * the hooks run would crash the process. Nothing else is needed here: the
 * 'close' that follows settles a pending reply.upgrade(), and an HTTP answer to
 * a destroyed socket is dropped by Node.
 */
export function ignoreSocketError (): void {}

/** Publishes how an upgrade request was answered (`fastify-collab:upgrade`), when anyone listens. */
export function publishUpgrade (sockets: { readonly instance: InstanceIdentity }, request: IncomingMessage, statusCode: number): void {
  if (upgradeChannel.hasSubscribers) upgradeChannel.publish({ instance: sockets.instance, request, statusCode } satisfies UpgradeEvent)
}
