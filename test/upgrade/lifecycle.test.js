import assert from 'node:assert/strict'
import { test } from 'node:test'
import fp from 'fastify-plugin'
import { WebSocket } from 'ws'
import { buildApp, connect, listen } from '../helpers/upgrade.js'
import { deferred, once } from '../helpers/wait.js'

test('an upgrade request runs the whole lifecycle in order; onSend, preSerialization and onResponse do not run after it', async (t) => {
  const app = await buildApp(t)
  const calls = []
  const upgraded = deferred('the handler to upgrade')
  for (const name of ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'onSend', 'preSerialization', 'onResponse']) {
    app.addHook(name, async () => { calls.push(name) })
  }
  app.get('/room/:name', {
    schema: {
      params: { type: 'object', properties: { name: { type: 'string', minLength: 3 } } },
      querystring: { type: 'object', properties: { n: { type: 'integer' } } }
    },
    onUpgrade: async (request) => {
      // Validation has not run yet: the querystring is still a string.
      calls.push(`onUpgrade:${typeof request.query.n}`)
    },
    // Route-level hooks run after the app's, as in Fastify.
    preHandler: async (request) => { calls.push(`validated:${typeof request.query.n}`) }
  }, async (request, reply) => {
    calls.push('handler')
    const socket = await reply.upgrade()
    socket.send('hello')
    upgraded.resolve()
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/room/lobby?n=42`)
  // The first frame can come in the same chunk as the 101: listen before 'open'.
  const [message] = await once(ws, 'message')
  await upgraded.wait()
  assert.equal(message.toString(), 'hello')
  ws.close()
  await once(ws, 'close')
  assert.deepEqual(calls, [
    'onRequest', 'preParsing', 'preValidation', 'onUpgrade:string',
    'preHandler', 'validated:number', 'handler'
  ])
})

test('encapsulated hooks, decorators and prefixes apply, and `this` is the route instance', async (t) => {
  const app = await buildApp(t)
  const seen = []
  await app.register(async (child) => {
    child.decorate('room', 'child-room')
    child.decorateRequest('user', null)
    child.addHook('onRequest', async (request) => { request.user = 'ada' })
    child.get('/ws', async function (request, reply) {
      seen.push(this.room, request.user, request.url)
      const socket = await reply.upgrade()
      socket.close(1000)
    })
  }, { prefix: '/v1' })
  await app.register(async (sibling) => {
    sibling.addHook('onRequest', async () => { seen.push('sibling hook ran') })
  })
  const url = await listen(app)
  const ws = await connect(`${url}/v1/ws`)
  const [code] = await once(ws, 'close')
  assert.equal(code, 1000)
  assert.deepEqual(seen, ['child-room', 'ada', '/v1/ws'])
})

test('hooks registered before the plugin still see upgrade requests', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyCollab } = await import('fastify-collab')
  const app = Fastify()
  t.after(() => app.close())
  const seen = []
  app.addHook('onRequest', async (request) => { seen.push(request.isUpgrade) })
  await app.register(fp(async (instance) => { instance.decorateRequest('early', null) }))
  await app.register(fastifyCollab)
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.close(1000)
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  await once(ws, 'close')
  assert.deepEqual(seen, [true])
})

test('an upgraded socket outlives connectionTimeout: onTimeout does not run after the upgrade', async (t) => {
  const app = await buildApp(t, { fastify: { connectionTimeout: 50 }, plugin: { heartbeatInterval: 150 } })
  const timeouts = []
  app.addHook('onTimeout', async (request) => { timeouts.push(request.url) })
  app.get('/ws', async (request, reply) => { await reply.upgrade() })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  // The first heartbeat ping comes 150 ms after the upgrade, well past the 50 ms timeout.
  await once(ws, 'ping')
  assert.equal(ws.readyState, WebSocket.OPEN)
  assert.deepEqual(timeouts, [])
  ws.close()
})
