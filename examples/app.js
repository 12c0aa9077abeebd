// The demo app as a function, so that examples/server.js (the `npm start` process) stays a
// thin shell of environment variables and signals.
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { LogController } from 'fastify'
import * as Y from 'yjs'
import fastifyCollab from 'fastify-collab'
import { SqliteStorage, storageExtension } from 'fastify-collab/sqlite'
import { buildPage, bundlePath } from './build-page.js'

const publicDir = new URL('public/', import.meta.url)

/** The Y.Text the page binds CodeMirror to; the replay command types into the same one. */
export const textField = 'codemirror'

// The same rule as the page's document switcher (examples/page/identity.js).
const documentParams = {
  type: 'object',
  properties: { document: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['document']
}

/**
 * Builds the demo: the page at `/`, the collaboration socket at `/collab/:document`,
 * `GET /health`, and `GET /api/documents/:document` (what the store holds for a document).
 *
 * @param {object} options
 * @param {string} options.dataDir the folder of the SQLite file `collab.sqlite` (created if missing).
 * @param {string} [options.token] the demo token that clients without a same-origin `Origin`
 *   header (scripts, the replay command) pass as `?token=`. Default `'demo'`.
 * @param {object | boolean} [options.logger] Fastify's `logger` option. Default `true` (pino, level info).
 * @returns {Promise<import('fastify').FastifyInstance>} ready to `listen`; `close()` stores every
 *   loaded document, then closes the SQLite file.
 * @throws whatever the plugin or the SQLite store throw on start (e.g. an unwritable `dataDir`).
 */
export async function buildApp ({ dataDir, token = 'demo', logger = true }) {
  // Per-request lines would bury the one line that matters (the URL to open); errors are still logged.
  const app = Fastify({ logger, logController: new LogController({ disableRequestLogging: true }) })
  const storage = new SqliteStorage({ path: join(dataDir, 'collab.sqlite') })

  await app.register(fastifyCollab, { extensions: [storageExtension(storage)] })

  if (!existsSync(bundlePath)) {
    app.log.info('bundling the page (examples/build-page.js)')
    await buildPage()
  }

  const sendFile = (name, type) => async (request, reply) =>
    reply.type(type).send(await readFile(new URL(name, publicDir)))
  app.get('/', sendFile('index.html', 'text/html; charset=utf-8'))
  app.get('/style.css', sendFile('style.css', 'text/css; charset=utf-8'))
  app.get('/build/main.js', sendFile('build/main.js', 'text/javascript; charset=utf-8'))
  app.get('/build/main.js.map', sendFile('build/main.js.map', 'application/json'))

  app.get('/health', async () => ({
    status: 'ok',
    documents: app.collab.getDocumentsCount(),
    connections: app.collab.getConnectionsCount()
  }))

  app.get('/collab/:document', {
    schema: { params: documentParams },
    onUpgrade: async (request, reply) => {
      if (request.query.token === token || isSameOrigin(request)) return
      return reply.code(403).send({ error: 'Forbidden', message: 'open the page from this server, or pass ?token=' })
    }
  }, async (request, reply) => {
    const socket = await reply.upgrade()
    // The hook context tells later hooks (and logs) how this client got in.
    app.collab.handleConnection(socket, request, request.params.document, { access: request.query.token === token ? 'token' : 'origin' })
  })

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

// A browser sends Origin on every WebSocket handshake; the page's own origin is the only one
// let in without the token. Host is what the browser connected to, so this holds behind any
// HOST/PORT without configuration.
function isSameOrigin (request) {
  const origin = request.headers.origin
  if (origin === undefined) return false
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}
