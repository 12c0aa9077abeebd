import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { WebSocket } from 'ws'
import { buildApp } from '../../examples/from-fastify-websocket/server.js'
import { startExampleServer } from '../helpers/example-server.js'
import { get } from '../helpers/http.js'
import { once, when, within } from '../helpers/wait.js'

const script = fileURLToPath(new URL('../../examples/from-fastify-websocket/server.js', import.meta.url))

/** A `ws` client; resolves once it is open, or with the HTTP status of a refused handshake. */
async function connect (url) {
  const socket = new WebSocket(url)
  socket.on('error', () => {})
  const messages = []
  socket.on('message', (data) => messages.push(JSON.parse(data)))
  const [, response] = await when(socket, ['open', 'unexpected-response'], { what: `the handshake on ${url}` })
  if (response !== undefined) {
    response.resume()
    socket.terminate()
    return response.statusCode
  }
  const client = { url, socket, messages, close: null }
  socket.on('close', (code, reason) => { client.close = { code, reason: String(reason) } })
  return client
}
/** Resolves with the close code and reason `client` got, once it is closed. */
async function closed (client) {
  await when(client.socket, 'close', { check: () => client.close !== null, what: `${client.url} to close` })
  return client.close
}
const received = (client, count) => when(client.socket, 'message', { check: () => client.messages.length >= count, what: `${count} chat messages` })

test('examples/from-fastify-websocket: hooks answer over HTTP, the room broadcasts validated messages, a full room and an invalid message close the socket with a reason, SIGTERM closes with 1001', async (t) => {
  const server = await startExampleServer(t, undefined, { script, env: { ROOM_CAPACITY: '2' } })
  const room = `${server.wsUrl}/chat/lobby`

  assert.equal(await connect(room), 401, 'no token: refused by the onRequest hook, before the handshake')
  assert.equal(await connect(`${room}?token=wrong`), 401)
  assert.equal(await connect(`${server.wsUrl}/chat/Not%20a%20room?token=alice-secret`), 400, 'the params schema')

  const alice = await connect(`${room}?token=alice-secret`)
  const bob = await connect(`${room}?token=bob-secret`)
  const members = (await get(`${server.httpUrl}/chat/lobby?token=carol-secret`)).json()
  assert.deepEqual(members, { room: 'lobby', members: ['alice', 'bob'] }, 'a plain GET on the same route')

  alice.socket.send(JSON.stringify({ text: 'hello' }))
  await Promise.all([received(alice, 1), received(bob, 1)])
  assert.deepEqual(bob.messages, [{ from: 'alice', text: 'hello' }])
  assert.deepEqual(alice.messages, [{ from: 'alice', text: 'hello' }])

  // A third member: the handler throws after the upgrade, and the app's errorHandler closes with its code.
  const carol = await connect(`${room}?token=carol-secret`)
  assert.deepEqual(await closed(carol), { code: 4429, reason: 'room lobby is full' })

  // schema.message: not a chat message (Fastify's Ajv would coerce a number to a string, as in a body).
  bob.socket.send(JSON.stringify({ text: '' }))
  assert.deepEqual(await closed(bob), { code: 1007, reason: 'message/text must NOT have fewer than 1 characters' })

  // fastify.close() (SIGTERM): every socket gets 1001 Going Away.
  const stopped = server.stop()
  assert.equal((await closed(alice)).code, 1001)
  assert.equal(await stopped, 0)
})

test('examples/from-fastify-websocket: injectWS runs the hooks, the schema and the handler without listen()', async (t) => {
  const app = await buildApp({ roomCapacity: 2 })
  t.after(() => within(app.close(), { what: 'the chat app to close' }))
  await assert.rejects(app.injectWS('/chat/lobby'), /Unexpected server response: 401/)
  const socket = await app.injectWS('/chat/lobby?token=alice-secret')
  const [answer] = await Promise.all([once(socket, 'message', { what: 'the echo of the message' }), socket.send(JSON.stringify({ text: 'injected' }))])
  assert.deepEqual(JSON.parse(answer[0]), { from: 'alice', text: 'injected' })
  socket.terminate()
})
