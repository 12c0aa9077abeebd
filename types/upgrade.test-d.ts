// Type tests of the public surface, checked by `tsc -p types` inside `npm test`.
// They import the package by name, so they check the published declarations.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { expectTypeOf } from 'expect-type'
import type { WebSocket, WebSocketServer } from 'ws'
import fastifyCollab, { fastifyCollab as named, FST_COLLAB_NOT_UPGRADE_REQUEST, type FastifyCollabOptions } from 'fastify-collab'

const app = Fastify()
expectTypeOf(named).toEqualTypeOf(fastifyCollab)
await app.register(fastifyCollab, { heartbeatInterval: 10_000, closeTimeout: 500, ws: { maxPayload: 1024 } })
await app.register(fastifyCollab, {
  errorHandler (error, socket, request) {
    expectTypeOf(error).toBeUnknown()
    expectTypeOf(socket).toEqualTypeOf<WebSocket>()
    expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
  }
})
// @ts-expect-error the plugin handles upgrades itself: ws's `port` is not an option
await app.register(fastifyCollab, { ws: { port: 1234 } })
// @ts-expect-error heartbeatInterval is a number of ms
expectTypeOf<FastifyCollabOptions>().toMatchTypeOf({ heartbeatInterval: '30s' })

expectTypeOf(app.websocketServer).toEqualTypeOf<WebSocketServer>()
expectTypeOf(app.injectWS).toBeCallableWith('/path', { headers: { authorization: 'x' } })
expectTypeOf(app.injectWS('/path')).resolves.toEqualTypeOf<WebSocket>()

app.addUpgradeHook(async (request, reply) => {
  expectTypeOf(request.isUpgrade).toEqualTypeOf<boolean>()
  expectTypeOf(reply).toMatchTypeOf<FastifyReply>()
})
app.addUpgradeHook((request, reply, done) => { done() })

app.get<{ Params: { room: string }, Querystring: { token: string } }>('/chat/:room', {
  onUpgrade: async (request, reply) => {
    expectTypeOf(request.query.token).toEqualTypeOf<string>()
    expectTypeOf(request.params.room).toEqualTypeOf<string>()
    if (request.query.token !== 'ok') return reply.code(401).send()
  }
}, async (request, reply) => {
  if (!request.isUpgrade) return { hint: 'connect with a WebSocket' }
  const socket = await reply.upgrade({ headers: { 'x-room': request.params.room } })
  expectTypeOf(socket).toEqualTypeOf<WebSocket>()
  socket.on('message', (data) => socket.send(data))
})

app.get('/array', {
  onUpgrade: [async () => {}, (request, reply, done) => done()]
}, async (request, reply) => { await reply.upgrade() })

// @ts-expect-error onUpgrade hooks take (request, reply[, done])
app.get('/bad', { onUpgrade: (a: number) => a }, async () => {})

expectTypeOf(new FST_COLLAB_NOT_UPGRADE_REQUEST().code).toEqualTypeOf<'FST_COLLAB_NOT_UPGRADE_REQUEST'>()
