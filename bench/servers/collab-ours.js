// fastify-collab: `reply.upgrade()` then `fastify.collab.handleConnection`,
// optionally with the durable SQLite store (options.sqlite: a directory) and
// the Redis scale-out (options.redis: a URL; the instances share the SQLite
// file of options.sqlite).
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'

export async function start (options = {}) {
  const extensions = []
  if (options.sqlite) {
    const { sqlite } = await import('fastify-collab/sqlite')
    extensions.push(sqlite({ path: `${options.sqlite}/bench.sqlite` }))
  }
  let scaleOut
  if (options.redis) {
    const { redis } = await import('fastify-collab/redis')
    scaleOut = redis({ url: options.redis })
  }
  const app = Fastify()
  await app.register(fastifyCollab, { extensions, scaleOut })
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
