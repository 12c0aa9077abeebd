import { once } from 'node:events'
import type { OutgoingHttpHeaders } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { WebSocket, type ClientOptions } from 'ws'

/** Options of `fastify.injectWS()`. */
export interface InjectWSOptions {
  /** Headers of the upgrade request (e.g. `authorization`, `origin`). */
  headers?: OutgoingHttpHeaders
  /** Subprotocols for `Sec-WebSocket-Protocol` (RFC 6455 §1.9). */
  protocols?: string | string[]
  /** Further options of the `ws` client. */
  client?: Omit<ClientOptions, 'headers'>
}

/**
 * Builds `fastify.injectWS(path, options)`: connects a real `ws` client to the
 * app without `listen()`, for tests. A one-shot loopback bridge hands the TCP
 * connection to the app's HTTP server, so the request runs the whole lifecycle
 * (hooks, validation, handler) exactly as a network request does.
 * @internal
 */
export function createInjectWS (fastify: FastifyInstance) {
  /**
   * @param path - the request path with its query string. Default `/`.
   * @returns the open WebSocket. Rejects with the `ws` client's error when the
   * server answers with HTTP instead of 101 ("Unexpected server response: 401").
   */
  return async function injectWS (path = '/', options: InjectWSOptions = {}): Promise<WebSocket> {
    await fastify.ready()
    const bridge = createServer((socket) => { fastify.server.emit('connection', socket) })
    bridge.listen(0, '127.0.0.1')
    try {
      await once(bridge, 'listening')
      const { port } = bridge.address() as AddressInfo
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, options.protocols, { ...options.client, headers: options.headers as Record<string, string> })
      await once(ws, 'open')
      return ws
    } finally {
      // Only stops accepting: the connection made through it lives on.
      bridge.close()
    }
  }
}
