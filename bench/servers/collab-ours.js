// fastify-collab: `reply.upgrade()` then `fastify.collab.handleConnection`,
// optionally with the durable SQLite store (options.sqlite: a directory).
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'

export async function start (options = {}) {
  const extensions = []
  if (options.sqlite) {
    const { sqlite } = await import('fastify-collab/sqlite')
    extensions.push(sqlite({ path: `${options.sqlite}/bench.sqlite` }))
  }
  const app = Fastify()
  await app.register(fastifyCollab, { extensions })
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
    close: () => app.close(),
    // For bench/soak.js: what is left once the clients are gone.
    stats: () => ({
      documents: app.collab.getDocumentsCount(),
      connections: app.collab.getConnectionsCount(),
      timers: process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    })
  }
}
