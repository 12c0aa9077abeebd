// Run by document.test.js as a child process: a load fails for a waiting
// client, then the app closes. The process must exit on its own, which it
// cannot if a document, timer or listener was left behind.
import Fastify from 'fastify'
import { WebSocket } from 'ws'
import { once } from 'node:events'
import * as encoding from 'lib0/encoding'
import fastifyCollab from 'fastify-collab'

const app = Fastify()
await app.register(fastifyCollab, { onLoadDocument () { throw new Error('storage offline') } })
app.get('/collab', async (request, reply) => {
  app.collab.handleConnection(await reply.upgrade(), request)
})
await app.listen({ host: '127.0.0.1', port: 0 })
const socket = new WebSocket(`ws://127.0.0.1:${app.server.address().port}/collab`)
await once(socket, 'open')
const encoder = encoding.createEncoder()
encoding.writeVarString(encoder, 'doc')
encoding.writeVarUint(encoder, 2)
encoding.writeVarUint(encoder, 0)
encoding.writeVarString(encoder, 'token')
socket.send(encoding.toUint8Array(encoder))
const [reply] = await once(socket, 'message')
const reason = Buffer.from(reply).subarray(7).toString()
const result = { reason, documents: app.collab.getDocumentsCount(), connections: app.collab.getConnectionsCount() }
socket.close()
await app.close()
process.stdout.write(JSON.stringify(result))
