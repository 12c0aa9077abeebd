import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { kUpgrade } from '../symbols.js'
import { ignoreSocketError, isWebSocketUpgrade, publishUpgrade, upgradeOf } from './request.js'
import type { Sockets } from './sockets.js'
import type { UpgradeIncomingMessage, UpgradeRequest } from './types.js'

/** Bytes a client may send before the 101 (RFC 6455 allows none) before it is cut off. */
const MAX_EARLY_DATA = 64 * 1024

/**
 * Runs once the turn that delivered an upgrade request is over. Most upgrade
 * requests are answered by then, with a 101 or an HTTP status, when their hooks
 * do no I/O: they cost neither a registry entry nor a read. One still in its
 * hooks is tracked for shutdown, and its socket is consumed from now on: Node
 * still reads it but only buffers what comes, FIN included, so a client that
 * leaves would go unnoticed and "complete" a handshake on a dead socket.
 * Consuming it sees EOF and resets; what the client sends meanwhile is kept in
 * the head, which ws replays into the WebSocket.
 */
function watchPending (sockets: Sockets, socket: Duplex, res: ServerResponse, upgrade: UpgradeRequest | undefined): void {
  if (socket.destroyed || res.writableEnded || (upgrade !== undefined && upgrade.promise !== null)) return
  sockets.trackPending(socket)
  if (upgrade === undefined) return
  upgrade.collect = (chunk: Buffer): void => {
    upgrade.head = Buffer.concat([upgrade.head, chunk])
    if (upgrade.head.length > MAX_EARLY_DATA) socket.destroy()
  }
  socket.on('data', upgrade.collect)
}

/**
 * The upgrade requests of the current turn, watched together once it is over:
 * one setImmediate per turn, not one per request. Flat triples, no entry objects.
 */
function createWatcher (sockets: Sockets) {
  const fresh: Array<Duplex | ServerResponse | UpgradeRequest | undefined> = []
  function watchFresh (): void {
    for (let i = 0; i < fresh.length; i += 3) {
      watchPending(sockets, fresh[i] as Duplex, fresh[i + 1] as ServerResponse, fresh[i + 2] as UpgradeRequest | undefined)
    }
    fresh.length = 0
  }
  return function watchAfterThisTurn (socket: Duplex, res: ServerResponse, upgrade: UpgradeRequest | undefined): void {
    if (fresh.length === 0) setImmediate(watchFresh)
    fresh.push(socket, res, upgrade)
  }
}

/**
 * Builds the listener for the HTTP server's 'upgrade' event. It runs the
 * request through Fastify's router and lifecycle like any request, with a
 * ServerResponse written straight onto the raw socket, so that every hook and
 * the error handler can still answer with a plain HTTP status.
 */
export function createUpgradeListener (fastify: FastifyInstance, sockets: Sockets) {
  const watchAfterThisTurn = createWatcher(sockets)
  // An upgrade request answered over HTTP leaves nothing to keep the socket for:
  // close it once the response has been written (no keep-alive on upgrade sockets).
  // Not destroy(): a write Node still holds would fail, and its error costs more
  // than the shutdown(2) that destroySoon() makes first. One 'finish' listener
  // per app, not a closure per request.
  function answered (this: ServerResponse): void {
    if (upgradeOf(this.req) !== undefined) publishUpgrade(sockets, this.req, this.statusCode)
    const socket = this.socket as Socket | null
    socket?.destroySoon()
  }
  return function onUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError)
    // Decided here, from the raw request, before any hook runs: no hook order
    // can make an upgrade request look like a plain one.
    let upgrade: UpgradeRequest | undefined
    if (isWebSocketUpgrade(req.headers.upgrade)) {
      upgrade = { head, collect: null, route: null, promise: null, socket: null, responseHeaders: null, handshakeError: null };
      (req as UpgradeIncomingMessage)[kUpgrade] = upgrade
    }
    const res = new ServerResponse(req)
    res.assignSocket(socket as Socket)
    // Makes Node write `Connection: close` on any HTTP answer.
    res.shouldKeepAlive = false
    // 'finish' comes once; `on` spares the wrapper `once` allocates per request.
    res.on('finish', answered)
    watchAfterThisTurn(socket, res, upgrade)
    fastify.routing(req, res)
  }
}
