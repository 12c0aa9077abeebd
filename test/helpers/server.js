import Fastify from 'fastify'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import fastifyCollab from 'fastify-collab'
import { when, within } from './wait.js'

/**
 * The `ws` WebSocket the providers get: one whose 'error' never goes unheard. `ws` emits one when a socket
 * still connecting is closed ("closed before the connection was established"), after a provider destroyed
 * has stopped listening; the close that follows tells the provider all it needs.
 */
export class ClientWebSocket extends WebSocket {
  constructor (...args) {
    super(...args)
    this.on('error', () => {})
  }
}

/**
 * A real collab server on 127.0.0.1 (a free port) and factories for real
 * clients, all closed after the test: the clients first, then `app.close()`,
 * so no client reconnects into a closing server.
 *
 * @param {import('node:test').TestContext} t
 * @param {object} [collabOptions] the plugin's flat options (hooks, extensions, debounce…).
 * @param {ListenOptions} [options]
 * @returns {Promise<CollabHarness>}
 */
export async function startCollabServer (t, collabOptions = {}, options = {}) {
  const { app, url } = await listenCollab(collabOptions, options)
  const clients = connectClients(url)
  // An after hook has no timeout of its own: a close() that hangs must still end the test.
  t.after(async () => {
    clients.destroyAll()
    await within(app.close(), { timeout: 10_000, what: 'fastify.close() after the test' })
  })
  return { app, url, ...clients }
}

/**
 * Registers the plugin with `collabOptions`, adds the two collab routes and
 * listens on 127.0.0.1, port 0. The caller closes the app.
 *
 * Routes:
 * - `GET /collab`: `handleConnection(socket, request, undefined, context)`, one
 *   socket for any number of documents. Hocuspocus providers connect here.
 * - `GET /collab/:document`: the socket is bound to the (URL-decoded) name.
 *   y-websocket providers connect here; `connectClients` encodes the room name
 *   with `encodeURIComponent`, so `/`, spaces and any Unicode survive the path.
 * - `GET /collab-raw/*`: bound to the rest of the path, URL-decoded, for
 *   y-websocket clients that put the name in the URL as it is (y-websocket
 *   itself does not encode it; the WHATWG URL parser percent-encodes spaces
 *   and non-ASCII and keeps `/`). Use `connectClients(<base>/collab-raw)` with
 *   `yws(room, { encode: false })`.
 *
 * @param {object} [collabOptions]
 * @param {ListenOptions} [options]
 * @returns {Promise<{ app: import('fastify').FastifyInstance, url: string }>} `url` is `ws://127.0.0.1:<port>/collab`.
 */
export async function listenCollab (collabOptions = {}, { context = () => ({}), fastify = { logger: false } } = {}) {
  const app = Fastify(fastify)
  await app.register(fastifyCollab, collabOptions)
  app.get('/collab', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request, undefined, context(request))
  })
  app.get('/collab/:document', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request, request.params.document, context(request))
  })
  app.get('/collab-raw/*', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request, request.params['*'], context(request))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `ws://127.0.0.1:${app.server.address().port}/collab` }
}

/**
 * @typedef {object} ListenOptions
 * @property {(request: import('fastify').FastifyRequest) => object} [context]
 *   builds the context passed to handleConnection; default `{}`.
 * @property {object} [fastify] options for `Fastify()`; default `{ logger: false }`.
 */

/**
 * Factories for real clients of a collab server at `url` (its `/collab`
 * route, see `startCollabServer`), which remember what they made so that
 * `destroyAll()` can close it. For a server the harness did not start.
 *
 * @param {string} url `ws://host:port/collab`
 * @returns {CollabClients}
 */
export function connectClients (url) {
  const clients = new Set()
  return {
    yws (room, { doc = new Y.Doc(), encode = true, ...options } = {}) {
      const provider = new WebsocketProvider(url, encode ? encodeURIComponent(room) : room, doc, {
        WebSocketPolyfill: ClientWebSocket,
        disableBc: true,
        ...options
      })
      clients.add(provider)
      return provider
    },
    hocus (name, options = {}) {
      const provider = new HocuspocusProvider({
        url,
        name,
        document: new Y.Doc(),
        token: 'token',
        WebSocketPolyfill: ClientWebSocket,
        ...options
      })
      clients.add(provider)
      return provider
    },
    drop (provider) {
      clients.delete(provider)
      destroy(provider)
    },
    destroyAll () {
      for (const provider of clients) destroy(provider)
      clients.clear()
    }
  }
}

// y-websocket's destroy() leaves the Awareness it created, and that
// Awareness's 3 s interval keeps the process alive. Hocuspocus destroys its own.
function destroy (provider) {
  provider.destroy()
  if (provider instanceof WebsocketProvider) provider.awareness.destroy()
}

/**
 * @typedef {object} CollabClients
 * @property {(room: string, options?: { doc?: Y.Doc, encode?: boolean } & object) => WebsocketProvider} yws
 *   a y-websocket 3.1 WebsocketProvider on `<url>/<encodeURIComponent(room)>`
 *   (`<url>/<room>` with `encode: false`); the other `options` go to
 *   WebsocketProvider after the Node defaults (`WebSocketPolyfill`, `disableBc`).
 * @property {(name: string, options?: object) => HocuspocusProvider} hocus
 *   a @hocuspocus/provider 4.8 HocuspocusProvider on `<url>`, naming `name` in
 *   every frame; `document` defaults to a new Y.Doc, `token` to 'token'.
 * @property {(provider: WebsocketProvider | HocuspocusProvider) => void} drop destroys one client.
 * @property {() => void} destroyAll destroys every client made here.
 */

/**
 * @typedef {{ app: import('fastify').FastifyInstance, url: string } & CollabClients} CollabHarness
 *   `url` is `ws://127.0.0.1:<port>/collab`.
 */

/**
 * Resolves once a provider of either kind has finished its first sync
 * (y-websocket: the first SyncStep2; Hocuspocus: `synced`).
 *
 * @param {WebsocketProvider | HocuspocusProvider} provider
 * @param {number} [timeout] ms, default 5000.
 * @returns {Promise<void>} rejects on timeout.
 */
export async function synced (provider, timeout = 5000) {
  if (provider instanceof HocuspocusProvider) {
    await when(provider, 'synced', { check: () => provider.isSynced, timeout, what: `Hocuspocus "${provider.configuration.name}" to sync` })
  } else {
    await when(provider, 'sync', { check: () => provider.synced, timeout, what: `y-websocket "${provider.roomname}" to sync` })
  }
}

/**
 * Resolves once a Hocuspocus provider has had every update it sent
 * acknowledged with SyncStatus (`unsyncedChanges === 0`).
 *
 * @param {HocuspocusProvider} provider
 * @param {number} [timeout] ms, default 5000.
 * @returns {Promise<void>} rejects on timeout.
 */
export async function acknowledged (provider, timeout = 5000) {
  await when(provider, 'unsyncedChanges', { check: () => provider.unsyncedChanges === 0, timeout, what: 'every SyncStatus' })
}
