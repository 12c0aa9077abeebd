import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { buildApp, echoRoute, listen, rawUpgrade } from '../helpers/upgrade.js'

// Each answer must reach the client as real HTTP on the raw socket, say
// `Connection: close`, and be followed by the server closing the socket: the
// rawUpgrade helper only resolves once the server has closed it.
function assertClosedHttpAnswer (response, statusCode) {
  assert.equal(response.statusCode, statusCode)
  assert.equal(response.headers.connection, 'close')
  assert.match(response.headers['content-type'], /application\/json/)
  assert.ok(response.closedAfter < 1000, `socket closed ${response.closedAfter} ms after the answer`)
}

test('a 401 from onRequest is answered over HTTP and the socket is closed', async (t) => {
  const app = await buildApp(t)
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.authorization !== 'Bearer ok') return reply.code(401).send({ error: 'no token' })
  })
  echoRoute(app)
  const url = await listen(app)
  const response = await rawUpgrade(url, '/echo')
  assertClosedHttpAnswer(response, 401)
  assert.deepEqual(response.json(), { error: 'no token' })
})

test('an auth hook registered BEFORE the plugin that replies 401 leaves no socket open', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  app.addHook('onRequest', async (request, reply) => reply.code(401).send({ error: 'denied' }))
  await app.register(fastifyCollab)
  echoRoute(app)
  const url = await listen(app)
  const response = await rawUpgrade(url, '/echo')
  assertClosedHttpAnswer(response, 401)
})

test('a 403 from onUpgrade is answered over HTTP', async (t) => {
  const app = await buildApp(t)
  echoRoute(app, '/echo', {
    onUpgrade: async (request, reply) => reply.code(403).send({ error: 'forbidden' })
  })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/echo')
  assertClosedHttpAnswer(response, 403)
  assert.deepEqual(response.json(), { error: 'forbidden' })
})

test('schema validation of params, querystring and headers answers 400 FST_ERR_VALIDATION', async (t) => {
  const app = await buildApp(t)
  echoRoute(app, '/room/:name', {
    schema: {
      params: { type: 'object', properties: { name: { type: 'string', minLength: 3 } } },
      querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
      headers: { type: 'object', required: ['x-client'], properties: { 'x-client': { type: 'string' } } }
    }
  })
  const url = await listen(app)
  const badParams = await rawUpgrade(url, '/room/ab?token=t', { 'x-client': 'c' })
  assertClosedHttpAnswer(badParams, 400)
  assert.equal(badParams.json().code, 'FST_ERR_VALIDATION')
  assert.match(badParams.json().message, /params/)
  const badQuery = await rawUpgrade(url, '/room/abc', { 'x-client': 'c' })
  assertClosedHttpAnswer(badQuery, 400)
  assert.match(badQuery.json().message, /querystring/)
  const badHeaders = await rawUpgrade(url, '/room/abc?token=t')
  assertClosedHttpAnswer(badHeaders, 400)
  assert.match(badHeaders.json().message, /headers/)
})

test('an unknown path answers 404', async (t) => {
  const app = await buildApp(t)
  const url = await listen(app)
  const response = await rawUpgrade(url, '/nowhere')
  assertClosedHttpAnswer(response, 404)
})

test('an error thrown by a hook goes through the error handler', async (t) => {
  const app = await buildApp(t)
  app.setErrorHandler((error, request, reply) => reply.code(418).send({ handled: error.message }))
  echoRoute(app, '/echo', { onUpgrade: async () => { throw new Error('boom') } })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/echo')
  assertClosedHttpAnswer(response, 418)
  assert.deepEqual(response.json(), { handled: 'boom' })
})

test('a handler that answers without upgrading sends that HTTP response, then closes', async (t) => {
  const app = await buildApp(t)
  app.get('/returns', async () => ({ hint: 'connect with a WebSocket' }))
  app.get('/sends', (request, reply) => { reply.code(409).send({ taken: true }) })
  const url = await listen(app)
  const returned = await rawUpgrade(url, '/returns')
  assertClosedHttpAnswer(returned, 200)
  assert.deepEqual(returned.json(), { hint: 'connect with a WebSocket' })
  const sent = await rawUpgrade(url, '/sends')
  assertClosedHttpAnswer(sent, 409)
})

test('a malformed handshake gets an HTTP status', async (t) => {
  const app = await buildApp(t)
  echoRoute(app)
  const url = await listen(app)
  const badKey = await rawUpgrade(url, '/echo', { 'Sec-WebSocket-Key': 'short' })
  // The raw helper sends its own valid key first; Node joins duplicates with ', '.
  assertClosedHttpAnswer(badKey, 400)
  assert.equal(badKey.json().code, 'FST_COLLAB_BAD_HANDSHAKE')
  const badVersion = await rawUpgrade(url, '/echo', { 'Sec-WebSocket-Version': '7' })
  assertClosedHttpAnswer(badVersion, 426)
  assert.equal(badVersion.headers['sec-websocket-version'], '13')
})
