// A chat on fastify-collab's upgrades: the "after" of a migration from @fastify/websocket. It mirrors an app
// written for @fastify/websocket 11:
//
//   await app.register(fastifyWebsocket, {
//     options: { maxPayload: 64 * 1024 },
//     errorHandler: (error, socket, request, reply) => { socket.close(error.closeCode ?? 1011, …) }
//   })
//   app.addHook('onRequest', authenticate)     // registered after the plugin, whose own onRequest must run first
//   app.get('/chat/:room', { websocket: true }, (socket, request) => {
//     if (roomIsFull) throw …                  // → errorHandler
//     socket.on('message', (data) => {         // attached at once, or what arrives meanwhile is lost
//       let message
//       try { message = JSON.parse(data) } catch { return socket.close(1007) }
//       …
//     })
//   })
//   // tests: const ws = await app.injectWS('/chat/lobby', { headers })
//
//   node examples/from-fastify-websocket/server.js    # PORT (default 3000), HOST, ROOM_CAPACITY (default 50)
//
// `GET /chat/:room?token=…` is the room: a WebSocket joins it (each message `{ "text": "…" }` goes to every
// member as `{ "from": user, "text": "…" }`), a plain GET lists its members. A wrong token gets 401 before the
// handshake; a full room closes the socket with 4429 and says so, which a browser can read (it cannot read
// the status of a refused handshake).
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { serve } from '../serve.js'

// A real app verifies a session or a JWT here (see examples/jwt-auth).
const users = new Map([['alice-secret', 'alice'], ['bob-secret', 'bob'], ['carol-secret', 'carol']])

class RoomFull extends Error {
  closeCode = 4429
  constructor (room) {
    super(`room ${room} is full`)
  }
}

/**
 * @param {{ logger?: object | boolean, roomCapacity?: number }} [options]
 * @returns {Promise<import('fastify').FastifyInstance>}
 */
export async function buildApp ({ logger = false, roomCapacity = 50 } = {}) {
  const app = Fastify({ logger })
  await app.register(fastifyCollab, {
    ws: { maxPayload: 64 * 1024 },
    // A handler that throws or rejects after `reply.upgrade()`: no `reply` any more, the socket is open.
    errorHandler: (error, socket, request) => {
      request.log.info({ err: error }, 'closing a chat socket')
      socket.close(error.closeCode ?? 1011, error.closeCode === undefined ? 'internal error' : error.message)
    }
  })

  // Any hook, in any order: an upgrade is an ordinary request, answered over HTTP until the handshake.
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request, reply) => {
    request.user = users.get(request.query.token) ?? null
    if (request.user === null) return reply.code(401).send({ error: 'Unauthorized', message: 'pass ?token=' })
  })

  /** @type {Map<string, Map<import('ws').WebSocket, string>>} room → its sockets and their users */
  const rooms = new Map()

  app.get('/chat/:room', {
    schema: {
      params: { type: 'object', properties: { room: { type: 'string', pattern: '^[a-z0-9-]{1,32}$' } }, required: ['room'] },
      // Each message is parsed and validated as a body would be; an invalid one closes the socket with 1007.
      message: {
        type: 'object',
        properties: { text: { type: 'string', minLength: 1, maxLength: 2000 } },
        required: ['text'],
        additionalProperties: false
      }
    }
  }, async (request, reply) => {
    const { room } = request.params
    const members = rooms.get(room) ?? new Map()
    // The same URL over plain HTTP (@fastify/websocket: `request.ws`, or a second handler).
    if (!request.isUpgrade) return { room, members: [...members.values()] }

    const socket = await reply.upgrade()
    if (members.size >= roomCapacity) throw new RoomFull(room)
    rooms.set(room, members.set(socket, request.user))
    socket.on('close', () => {
      members.delete(socket)
      if (members.size === 0 && rooms.get(room) === members) rooms.delete(room)
    })
    // `message` is the validated value. Frames that came before this line were held, not lost.
    socket.on('message', (message) => {
      const frame = JSON.stringify({ from: request.user, text: message.text })
      for (const member of members.keys()) member.send(frame)
    })
  })
  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await serve(() => buildApp({
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    roomCapacity: Number(process.env.ROOM_CAPACITY ?? 50)
  }), {
    port: 3000,
    text: (address) => `Open ${address}/ with a WebSocket to ${address.replace(/^http/, 'ws')}/chat/<room>?token=alice-secret`
  })
}
