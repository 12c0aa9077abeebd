// The demo app as a function, so that examples/server.js (the `npm start` process) stays a
// thin shell of environment variables and signals.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { LogController } from 'fastify'
import fastifyCompress from '@fastify/compress'
import fastifyRateLimit from '@fastify/rate-limit'
import fastifyStatic from '@fastify/static'
import { collectDefaultMetrics, Registry } from 'prom-client'
import * as Y from 'yjs'
import fastifyCollab from 'fastify-collab'
import { SqliteStorage, storageExtension } from 'fastify-collab/sqlite'
import { buildPage, pageIsStale } from './build-page.js'
import { versionsChanged } from './page/notices.js'
import { versionsRoutes } from './versions-routes.js'

const publicDir = fileURLToPath(new URL('public/', import.meta.url))

/** The Y.Text the page binds CodeMirror to; the replay command types into the same one. */
export const textField = 'codemirror'

// The same rule as the page's document switcher (examples/page/identity.js).
const documentName = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }
const documentParams = { type: 'object', properties: { document: documentName }, required: ['document'] }

// `token`: see buildApp; `user`: the name the page shows for this tab (examples/page/identity.js), which the
// history counts as the author of the socket's changes. Nobody checks it: a demo has no accounts.
const collabQuery = {
  type: 'object',
  properties: { token: { type: 'string' }, user: { type: 'string', minLength: 1, maxLength: 32 } }
}

/**
 * WebSocket handshakes one client IP may start on `/collab/:document` per window; past it, a
 * `429` with `Retry-After` before any hook of ours runs. A person opens one socket per tab, and
 * a provider that lost its socket retries at once, then after 1 s, doubling up to 30 s, so 60 a
 * minute leaves room for a dozen tabs reconnecting together; a script that loops on handshakes
 * (each one runs the hooks, may load a document from SQLite, and holds a socket) is held to one
 * a second on average. Behind a proxy every client shares its IP: set Fastify's `trustProxy` first.
 */
export const handshakeRateLimit = { max: 60, timeWindow: 60_000 }

/**
 * Requests one client IP may make per window on each versions route that computes a diff or writes a version
 * (`GET /api/documents/:document/versions/:id` and both POSTs); past it, a `429` with `Retry-After`. A diff
 * holds the event loop for up to 250 ms (the history's `diffTimeout`), and each version made stores the whole
 * document, labelled ones and those a restore saves for good: one a second on average is more than a person
 * clicking through the History panel needs, and keeps a script from filling the disk or the event loop.
 */
export const versionsRateLimit = { max: 60, timeWindow: 60_000 }

/**
 * Builds the demo: the page at `/`, the collaboration socket at `/collab/:document` (`?user=` names the
 * author of its changes), `GET /health`, `GET /metrics` (Prometheus text format), `GET /api/owner/:document`
 * (which instance owns a document), `GET /api/documents/:document` (what the store holds for a document), and
 * the document's history under `/api/documents/:document/versions` (examples/versions-routes.js): versions
 * are made every 10 minutes of editing, when the last client leaves, and on demand, and kept in the SQLite file.
 *
 * @param {object} options
 * @param {string} options.dataDir the folder of the SQLite file `collab.sqlite` (created if missing);
 *   the instances of a cluster share it.
 * @param {string} [options.token] the demo token that clients without an `Origin` header (scripts,
 *   the replay command) pass as `?token=`, on the socket and on the POSTs of the versions routes. Default `'demo'`.
 * @param {string} [options.redisUrl] a `redis://` URL: the app is then one instance of a scale-out
 *   cluster (`fastify-collab/redis`). Default: none, one instance serves every document.
 * @param {string} [options.trustProxy] Fastify's `trustProxy`, for an app behind a reverse proxy
 *   (`'loopback'` in examples/cluster.js): `request.ip`, which the handshake rate limit counts by,
 *   is then the client's address from `X-Forwarded-For`, not the proxy's. Default: none.
 * @param {object | boolean} [options.logger] Fastify's `logger` option. Default `true` (pino, level info).
 * @returns {Promise<import('fastify').FastifyInstance>} ready to `listen`; `close()` stores every
 *   loaded document, then closes the SQLite file.
 * @throws whatever the plugin, the SQLite store or Redis throw on start (e.g. an unwritable `dataDir`).
 */
export async function buildApp ({ dataDir, token = 'demo', redisUrl, trustProxy, logger = true }) {
  // Per-request lines would bury the one line that matters (the URL to open); errors are still logged.
  const app = Fastify({ logger, trustProxy, logController: new LogController({ disableRequestLogging: true }) })
  // The instances of a cluster write one file: a 10 ms busy timeout lets a write wait for
  // another process's transaction instead of failing and retrying 50 ms later.
  const storage = new SqliteStorage({ path: join(dataDir, 'collab.sqlite'), busyTimeout: redisUrl === undefined ? 0 : 10 })
  const scaleOut = redisUrl === undefined ? undefined : (await import('fastify-collab/redis')).redis({ url: redisUrl })

  // A registry of the app's own rather than prom-client's global one, so that two apps in one
  // process (the tests start several) never share counters: the collab_ metrics plus Node's
  // process metrics (CPU, heap, event-loop lag).
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  await app.register(fastifyCollab, {
    extensions: [storageExtension(storage)],
    scaleOut,
    metrics: { registry },
    // Versions in the same SQLite file, with the history's defaults; each counts as its authors the `user` of
    // the sockets (and the restores) that changed the document since the one before.
    history: {},
    // Tells each page which instance its socket is on and which one owns the document (they differ in
    // a cluster), in a Hocuspocus Stateless message. `connected` runs on the owner each time a client
    // attaches, so the page learns where it landed after every reconnect and failover; `request` is
    // the socket's own, or, for a socket on another instance, a RemoteRequest naming that instance.
    connected: ({ connection, request }) => {
      const instance = 'remote' in request ? request.instanceId : app.collab.instanceId
      connection.sendStateless(JSON.stringify({ instance, owner: app.collab.instanceId }))
    },
    // A page that made or restored a version says so, and every page of the document refreshes its History
    // panel. The page tells rather than the routes: a route may run on any instance of a cluster, while this
    // hook runs on the owner, which reaches every client of the document. Anything else is dropped.
    onStateless: ({ document, payload }) => {
      if (payload === versionsChanged) document.broadcastStateless(payload)
    }
  })
  // Only for the routes that ask for it (`config.rateLimit`): the WebSocket route and the versions routes.
  await app.register(fastifyRateLimit, { global: false })

  if (pageIsStale()) {
    app.log.info('bundling the page (examples/build-page.js)')
    await buildPage()
  }

  // Every answer of 1 KiB or more goes compressed when the client accepts it, brotli first
  // (quality 4, @fastify/compress's default), then gzip: the 500 KiB bundle leaves as about
  // 160 KiB either way. Partial content (a Range answer) is never compressed.
  await app.register(fastifyCompress, { encodings: ['br', 'gzip'] })
  // The page, /style.css and /build/main.js (+ .map). The bundle's name does not change with
  // its content, so nothing may be used unchecked: `Cache-Control: public, max-age=0` with an
  // ETag and Last-Modified makes a reload a 304, and a rebuilt bundle is seen at once.
  // Range requests get 206.
  await app.register(fastifyStatic, { root: publicDir, cacheControl: true, maxAge: 0, etag: true, lastModified: true, acceptRanges: true })

  app.get('/health', async () => ({
    status: 'ok',
    instanceId: app.collab.instanceId,
    documents: app.collab.getDocumentsCount(),
    connections: app.collab.getConnectionsCount()
  }))

  // What Prometheus scrapes (see docs/demo.md).
  app.get('/metrics', async (request, reply) => reply.type(registry.contentType).send(await registry.metrics()))

  // Which instance answered, and which owns a document (nobody, `null`, when it is not open).
  app.get('/api/owner/:document', { schema: { params: documentParams } }, async (request) => ({
    instanceId: app.collab.instanceId,
    owner: await app.collab.ownerOf(request.params.document)
  }))

  app.get('/collab/:document', {
    // An upgrade runs Fastify's lifecycle, so @fastify/rate-limit's onRequest hook applies to
    // the handshake as to any request, and answers 429 over HTTP.
    config: { rateLimit: handshakeRateLimit },
    schema: { params: documentParams, querystring: collabQuery },
    // Cross-site WebSocket hijacking: a browser always sends Origin, and only this server's own
    // pages may open the socket (403 otherwise). Host is what the browser connected to, so this
    // holds behind any HOST/PORT without configuration.
    allowedOrigins: (origin, request) => origin === undefined || isSameHost(origin, request),
    // Clients that send no Origin (scripts, the replay command) pass the demo token.
    onUpgrade: async (request, reply) => {
      if (request.headers.origin !== undefined || request.query.token === token) return
      return reply.code(403).send({ error: 'Forbidden', message: 'open the page from this server, or pass ?token=' })
    }
  }, async (request, reply) => {
    const socket = await reply.upgrade()
    // The hook context tells later hooks (and logs) how this client got in, and the history who typed.
    const { user } = request.query
    const access = request.query.token === token ? 'token' : 'origin'
    app.collab.handleConnection(socket, request, request.params.document, user === undefined ? { access } : { access, user })
  })

  // The same rule as the socket's: the page's own origin, or no Origin and the token.
  const mayWrite = (request) => {
    const { origin } = request.headers
    return origin === undefined ? request.query.token === token : isSameHost(origin, request)
  }
  await app.register(versionsRoutes, { prefix: '/api/documents/:document/versions', textField, documentName, mayWrite, rateLimit: versionsRateLimit })

  // For the replay command: what is on disk for one document, and how long reading it
  // back (snapshot plus log, applied to a fresh Y.Doc) takes.
  app.get('/api/documents/:document', { schema: { params: documentParams } }, async (request) => {
    const { document } = request.params
    const started = process.hrtime.bigint()
    const stored = await storage.load(document)
    const doc = new Y.Doc()
    if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
    for (const update of stored.updates) Y.applyUpdate(doc, update)
    const reloadMs = Number(process.hrtime.bigint() - started) / 1e6
    const text = doc.getText(textField).toString()
    doc.destroy()
    return {
      document,
      loaded: app.collab.documents.has(document),
      snapshotBytes: stored.snapshot?.byteLength ?? 0,
      logUpdates: stored.updates.length,
      logBytes: stored.updates.reduce((sum, update) => sum + update.byteLength, 0),
      reloadMs,
      text
    }
  })

  return app
}

function isSameHost (origin, request) {
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}
