// Type tests of typed messages (schema.message) and of the public surface that
// follows Fastify core's (issue 10 §3, §4). Checked by `tsc -p types` inside `npm test`.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { expectTypeOf } from 'expect-type'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import fastifyCollab, { type AllowedOrigins, type FastifyCollabOptions, type ValidatedWebSocket } from 'fastify-collab'

// --- messages typed through the route's type provider -------------------------

const typebox = Fastify().withTypeProvider<TypeBoxTypeProvider>()
await typebox.register(fastifyCollab)
typebox.get('/chat/:room', {
  schema: {
    params: Type.Object({ room: Type.String() }),
    message: Type.Object({ text: Type.String(), mentions: Type.Optional(Type.Array(Type.String())) })
  },
  onInvalidMessage (error, socket, request) {
    expectTypeOf(error).toEqualTypeOf<FastifyError>()
    expectTypeOf(request.params.room).toEqualTypeOf<string>()
    socket.send(JSON.stringify({ error: error.message }))
  }
}, async (request, reply) => {
  const socket = await reply.upgrade()
  expectTypeOf(socket).toEqualTypeOf<ValidatedWebSocket<{ text: string, mentions?: string[] }>>()
  socket.on('message', (message) => {
    expectTypeOf(message.text).toEqualTypeOf<string>()
    expectTypeOf(message.mentions).toEqualTypeOf<string[] | undefined>()
    // @ts-expect-error the schema has no `txt`: a wrong property access does not compile
    socket.send(message.txt)
  })
  // Everything else of ws's WebSocket is still there.
  socket.on('close', (code, reason) => {
    expectTypeOf(code).toEqualTypeOf<number>()
    expectTypeOf(reason).toEqualTypeOf<Buffer>()
  })
  expectTypeOf(socket.bufferedAmount).toEqualTypeOf<number>()
})

const zod = Fastify().withTypeProvider<ZodTypeProvider>()
zod.setValidatorCompiler(validatorCompiler)
await zod.register(fastifyCollab)
zod.get('/moves', { schema: { message: z.object({ x: z.number(), y: z.number() }) } }, async (request, reply) => {
  const socket = await reply.upgrade()
  socket.once('message', (move) => {
    expectTypeOf(move).toEqualTypeOf<{ x: number, y: number }>()
    // @ts-expect-error `z` is not a field of a move
    expectTypeOf(move.z).toBeNumber()
  })
})

// Without schema.message (or without a type provider): ws's raw frames, or unknown.
typebox.get('/raw', async (request, reply) => {
  const socket = await reply.upgrade()
  expectTypeOf(socket).toEqualTypeOf<WebSocket>()
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
})
const plain = Fastify()
await plain.register(fastifyCollab)
plain.get('/untyped', { schema: { message: { type: 'object' } } }, async (request, reply) => {
  const socket = await reply.upgrade()
  socket.on('message', (message) => { expectTypeOf(message).toBeUnknown() })
})

// --- addUpgradeHook, typed as Fastify's addHook('preValidation') ---------------

// It returns the instance with its generics: the type provider stays.
expectTypeOf(typebox.addUpgradeHook(async () => {})).toEqualTypeOf<FastifyInstance<Server, IncomingMessage, ServerResponse, typeof typebox.log, TypeBoxTypeProvider>>()
typebox
  .addUpgradeHook(async (request, reply) => { expectTypeOf(reply).toMatchTypeOf<FastifyReply>() })
  .addUpgradeHook((request, reply, done) => { done() })
  .get('/after', { schema: { querystring: Type.Object({ token: Type.String() }) } }, async (request) => {
    expectTypeOf(request.query.token).toEqualTypeOf<string>()
  })
// @ts-expect-error an async hook must not take `done`: it would advance the chain twice
typebox.addUpgradeHook(async (request, reply, done) => { done() })
// @ts-expect-error a hook is a function
typebox.addUpgradeHook('not a hook')

// --- no internal state in the published typings ---------------------------------

expectTypeOf<Extract<keyof FastifyReply, symbol>>().toBeNever()
expectTypeOf<Extract<keyof FastifyRequest, symbol>>().toBeNever()
// Fastify's own instance has one symbol key, Symbol.asyncDispose (`await using app = Fastify()`).
expectTypeOf<Exclude<Extract<keyof FastifyInstance, symbol>, typeof Symbol.asyncDispose>>().toBeNever()

// --- options ------------------------------------------------------------------

await plain.register(fastifyCollab, {
  maxBufferedAmount: 4 * 1024 * 1024,
  allowedOrigins: ['https://app.example.com'],
  async errorHandler (error, socket) { socket.close(4000, String(error)) }
})
await plain.register(fastifyCollab, {
  allowedOrigins (origin, request) {
    expectTypeOf(origin).toEqualTypeOf<string | undefined>()
    expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
    return origin === undefined || origin.endsWith('.example.com')
  }
})
expectTypeOf<AllowedOrigins>().toMatchTypeOf<FastifyCollabOptions['allowedOrigins']>()
// @ts-expect-error an origin is a string
await plain.register(fastifyCollab, { allowedOrigins: [443] })
// @ts-expect-error maxBufferedAmount is a number of bytes
await plain.register(fastifyCollab, { maxBufferedAmount: '20 MiB' })
plain.get('/widget', { allowedOrigins: ['https://widget.example.net'] }, async (request, reply) => { await reply.upgrade() })
