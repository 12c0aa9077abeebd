// fastify-collab: the `onUpgrade` route option and `reply.upgrade()`.
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { querystring, echo } from './shape.js'

export async function start () {
  const app = Fastify()
  await app.register(fastifyCollab)
  app.get('/echo', {
    schema: { querystring },
    onUpgrade: async (request, reply) => {
      if (request.query.token !== 'ok') return reply.code(401).send()
    }
  }, async (request, reply) => {
    echo(await reply.upgrade())
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
}
