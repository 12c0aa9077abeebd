// Issue 10 §3: the same echo route, with `schema.message` (the plugin parses
// and validates each message, the app gets the value) or without (the app
// parses each frame with JSON.parse). Both echo JSON.stringify of the value.
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { messageSchema } from './shape.js'

export async function start ({ validate = true } = {}) {
  const app = Fastify()
  await app.register(fastifyCollab)
  if (validate) {
    app.get('/echo', { schema: { message: messageSchema } }, async (request, reply) => {
      const socket = await reply.upgrade()
      socket.on('message', (message) => socket.send(JSON.stringify(message)))
    })
  } else {
    app.get('/echo', async (request, reply) => {
      const socket = await reply.upgrade()
      socket.on('message', (data) => socket.send(JSON.stringify(JSON.parse(data.toString()))))
    })
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
}
