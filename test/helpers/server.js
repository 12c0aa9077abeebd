import Fastify from 'fastify'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import fastifyCollab from 'fastify-collab'
import { when } from './wait.js'

/**
 * A real collab server on 127.0.0.1 (a free port) and factories for real
 * clients, all closed after the test: the clients first, then `app.close()`,
 * so no client reconnects into a closing server.
 *
 * Routes:
 * - `GET /collab`: `handleConnection(socket, request, undefined, context)`, one
 *   socket for any number of documents. Hocuspocus providers connect here.
 * - `GET /collab/:document`: the socket is bound to the (URL-decoded) name.
 *   y-websocket providers connect here; the factory encodes the room name
 *   with `encodeURIComponent`, so `/`, spaces and any Unicode survive the path.
 *
 * @param {import('node:test').TestContext} t
 * @param {object} [collabOptions] the plugin's flat options (hooks, extensions, debounce…).
 * @param {{ context?: (request: import('fastify').FastifyRequest) => object, fastify?: object }} [options]
 *   `context` builds the context passed to handleConnection (default `{}`);
 *   `fastify` is passed to `Fastify()` (default `{ logger: false }`).
 * @returns {Promise<CollabHarness>}
 */
export async function startCollabServer (t, collabOptions = {}, { context = () => ({}), fastify = { logger: false } } = {}) {
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
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `ws://127.0.0.1:${app.server.address().port}`

  const clients = new Set()
  t.after(async () => {
    for (const provider of clients) provider.destroy()
    await app.close()
  })

  return {
    app,
    /** `ws://127.0.0.1:<port>/collab` */
    url: `${base}/collab`,
    /**
     * A y-websocket 3.1 WebsocketProvider on `/collab/<encodeURIComponent(room)>`.
     * @param {string} room
     * @param {{ doc?: Y.Doc } & object} [options] passed to WebsocketProvider after the Node defaults.
     */
    yws (room, { doc = new Y.Doc(), ...options } = {}) {
      const provider = new WebsocketProvider(`${base}/collab`, encodeURIComponent(room), doc, {
        WebSocketPolyfill: WebSocket,
        disableBc: true,
        ...options
      })
      clients.add(provider)
      return provider
    },
    /**
     * A @hocuspocus/provider 4.8 HocuspocusProvider on `/collab`, naming `name` in every frame.
     * @param {string} name
     * @param {object} [options] HocuspocusProvider configuration; `document` defaults to a new Y.Doc, `token` to 'token'.
     */
    hocus (name, options = {}) {
      const provider = new HocuspocusProvider({
        url: `${base}/collab`,
        name,
        document: new Y.Doc(),
        token: 'token',
        WebSocketPolyfill: WebSocket,
        ...options
      })
      clients.add(provider)
      return provider
    },
    /**
     * Destroys a client made here and forgets it.
     * @param {WebsocketProvider | HocuspocusProvider} provider
     */
    drop (provider) {
      clients.delete(provider)
      provider.destroy()
    }
  }
}

/**
 * @typedef {object} CollabHarness
 * @property {import('fastify').FastifyInstance} app
 * @property {string} url
 * @property {(room: string, options?: object) => WebsocketProvider} yws
 * @property {(name: string, options?: object) => HocuspocusProvider} hocus
 * @property {(provider: WebsocketProvider | HocuspocusProvider) => void} drop
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
