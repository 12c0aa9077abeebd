// @fastify/websocket 11 with a preValidation auth hook on the route.
import Fastify from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import { querystring, echo } from './shape.js'

export async function start () {
  const app = Fastify()
  await app.register(fastifyWebsocket)
  app.get('/echo', {
    websocket: true,
    schema: { querystring },
    preValidation: async (request, reply) => {
      if (request.query.token !== 'ok') return reply.code(401).send()
    }
  }, (socket) => echo(socket))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
}
