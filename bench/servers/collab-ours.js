// fastify-collab: `reply.upgrade()` then `fastify.collab.handleConnection`,
// optionally with the durable SQLite store (options.sqlite: a directory), the
// Redis scale-out (options.redis: a URL; the instances share the SQLite file of
// options.sqlite) and the Prometheus metrics (options.metrics: registered on a
// registry of their own and scraped every second, 15 times as often as
// Prometheus's default interval, so that the scrapes' cost is counted too).
// options.seed names a file holding a Yjs update that onLoadDocument returns for
// the document options.seedDocument (the join storm's large document).
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'

export async function start (options = {}) {
  const extensions = []
  if (options.seed) {
    extensions.push({ onLoadDocument: ({ documentName }) => documentName === options.seedDocument ? readFileSync(options.seed) : undefined })
  }
  if (options.sqlite) {
    const { sqlite } = await import('fastify-collab/sqlite')
    extensions.push(sqlite({ path: `${options.sqlite}/bench.sqlite` }))
  }
  let scaleOut
  if (options.redis) {
    const { redis } = await import('fastify-collab/redis')
    scaleOut = redis({ url: options.redis })
  }
  let metrics
  if (options.metrics) {
    const { Registry } = await import('prom-client')
    metrics = { registry: new Registry() }
  }
  const app = Fastify()
  await app.register(fastifyCollab, { extensions, scaleOut, metrics })
  if (metrics !== undefined) {
    const scrapes = setInterval(() => { metrics.registry.metrics().catch((error) => app.log.error(error)) }, 1000)
    app.addHook('onClose', async () => clearInterval(scrapes))
  }
  app.get('/collab/:document', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request, request.params.document)
  })
  // One Hocuspocus socket for any documents (bench/fuzz.js).
  app.get('/collab', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    port: app.server.address().port,
    instanceId: app.collab.instanceId,
    close: () => app.close(),
    // For bench/soak.js: what is left once the clients are gone.
    stats: () => ({
      documents: app.collab.getDocumentsCount(),
      connections: app.collab.getConnectionsCount(),
      timers: process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    })
  }
}
