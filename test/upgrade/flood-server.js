// A server in its own process, so that a test can measure the server's memory
// alone while its clients flood or stall it. Started by backpressure.test.js
// with --expose-gc and the plugin options as JSON in argv[2]; it talks over IPC:
//   <- { port }                                  once listening
//   -> 'memory'  <- { memory: { external, arrayBuffers } } after two full GCs
//   <- { log }                                   every warn line (the send-buffer bound)
//   <- { closed: name, code, state }             a server-side socket closed ('close' event)
//   -> 'state'   <- { states: { name: { readyState, bufferedAmount } } }
// Routes: GET /room/:name, a broadcast room where each message from a member sends
// a fresh 64 KiB chunk to every member (without looking at bufferedAmount, as a
// naive app would); GET /collab/:document, fastify.collab.handleConnection.
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { WebSocket } from 'ws'

const options = JSON.parse(process.argv[2])
const app = Fastify({
  logger: {
    level: 'warn',
    stream: { write: (line) => process.send({ log: JSON.parse(line) }) }
  }
})
await app.register(fastifyCollab, options)
const sockets = new Map()

function track (name, socket) {
  sockets.set(name, socket)
  socket.on('close', (code) => process.send({ closed: name, code }))
}

app.get('/room/:name', async (request, reply) => {
  const socket = await reply.upgrade()
  track(request.params.name, socket)
  socket.on('message', () => {
    for (const member of sockets.values()) {
      if (member.readyState === WebSocket.OPEN) member.send(Buffer.alloc(64 * 1024, 1))
    }
  })
})

app.get('/collab/:document', async (request, reply) => {
  const socket = await reply.upgrade()
  track(request.query.name, socket)
  app.collab.handleConnection(socket, request, request.params.document)
})

process.on('message', async (message) => {
  if (message === 'memory') {
    // Two passes a turn apart, as bench/server.js: V8 frees ArrayBuffer
    // memory after a collection, not during it.
    global.gc()
    await new Promise((resolve) => setImmediate(resolve))
    global.gc()
    const { external, arrayBuffers } = process.memoryUsage()
    process.send({ memory: { external, arrayBuffers } })
  } else if (message === 'state') {
    const states = {}
    for (const [name, socket] of sockets) states[name] = { readyState: socket.readyState, bufferedAmount: socket.bufferedAmount }
    process.send({ states })
  }
})

await app.listen({ host: '127.0.0.1', port: 0 })
process.send({ port: app.server.address().port })
