// allowedOrigins and rate limits (issue 7 §8): other origins get 403 before the
// handshake; @fastify/rate-limit applies to upgrades as to any route.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import rateLimit from '@fastify/rate-limit'
import { buildApp, connect, echoRoute, listen, rawUpgrade } from '../helpers/upgrade.js'
import { once } from '../helpers/wait.js'

test('allowedOrigins as a list: a listed Origin upgrades, another gets 403 FST_COLLAB_ORIGIN_FORBIDDEN, a request without Origin upgrades', async (t) => {
  const app = await buildApp(t, { plugin: { allowedOrigins: ['https://app.example.com', 'http://localhost:8080'] } })
  let handlers = 0
  app.get('/ws', async (request, reply) => {
    handlers++
    const socket = await reply.upgrade()
    socket.close(1000)
  })
  const url = await listen(app)
  const listed = await connect(`${url}/ws`, { headers: { origin: 'https://app.example.com' } })
  await once(listed, 'close')
  const other = await rawUpgrade(url, '/ws', { Origin: 'https://evil.example' })
  assert.equal(other.statusCode, 403)
  assert.equal(other.headers.connection, 'close')
  assert.equal(other.json().code, 'FST_COLLAB_ORIGIN_FORBIDDEN')
  assert.equal(other.json().message, 'WebSocket connections from origin "https://evil.example" are not allowed')
  // Same host, other port or scheme: another origin (RFC 6454).
  assert.equal((await rawUpgrade(url, '/ws', { Origin: 'http://localhost:8081' })).statusCode, 403)
  assert.equal((await rawUpgrade(url, '/ws', { Origin: 'https://localhost:8080' })).statusCode, 403)
  assert.equal((await rawUpgrade(url, '/ws', { Origin: 'null' })).statusCode, 403)
  // No Origin: not a browser, so not a cross-site request.
  const none = await connect(`${url}/ws`)
  await once(none, 'close')
  assert.equal(handlers, 6)
})

test('allowedOrigins as a function gets the Origin (undefined without one) and the request', async (t) => {
  const seen = []
  const app = await buildApp(t, {
    plugin: {
      allowedOrigins (origin, request) {
        seen.push([origin, request.url])
        return origin !== undefined && origin.endsWith('.example.com')
      }
    }
  })
  echoRoute(app)
  const url = await listen(app)
  const ok = await connect(`${url}/echo`, { headers: { origin: 'https://a.example.com' } })
  ok.close()
  assert.equal((await rawUpgrade(url, '/echo')).statusCode, 403)
  assert.deepEqual(seen, [['https://a.example.com', '/echo'], [undefined, '/echo']])
})

test('a route\'s own allowedOrigins replaces the plugin\'s', async (t) => {
  const app = await buildApp(t, { plugin: { allowedOrigins: ['https://app.example.com'] } })
  echoRoute(app, '/app')
  echoRoute(app, '/widget', { allowedOrigins: ['https://widget.example.net'] })
  echoRoute(app, '/anyone', { allowedOrigins: () => true })
  const url = await listen(app)
  assert.equal((await rawUpgrade(url, '/app', { Origin: 'https://widget.example.net' })).statusCode, 403)
  assert.equal((await rawUpgrade(url, '/widget', { Origin: 'https://app.example.com' })).statusCode, 403)
  const widget = await connect(`${url}/widget`, { headers: { origin: 'https://widget.example.net' } })
  widget.close()
  const anyone = await connect(`${url}/anyone`, { headers: { origin: 'https://evil.example' } })
  anyone.close()
})

test('allowedOrigins entries must be serialised origins; a bad plugin or route option is refused', async (t) => {
  for (const allowedOrigins of ['https://app.example.com', ['https://app.example.com/'], ['https://APP.example.com'], ['app.example.com'], [42]]) {
    const app = Fastify()
    await assert.rejects(app.register(fastifyCollab, { allowedOrigins }).ready(), { code: 'FST_COLLAB_INVALID_OPTION' }, JSON.stringify(allowedOrigins))
    await app.close()
  }
  const app = await buildApp(t)
  assert.throws(() => echoRoute(app, '/bad', { allowedOrigins: ['*'] }), { code: 'FST_COLLAB_INVALID_OPTION' })
})

test('@fastify/rate-limit applies to upgrade requests: over the limit, the handshake gets 429 and the socket is closed', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(rateLimit, { max: 2, timeWindow: 60_000 })
  await app.register(fastifyCollab)
  echoRoute(app)
  // A route's own limit, as the demo's WebSocket route would set it.
  echoRoute(app, '/strict', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } })
  const url = await listen(app)
  for (let i = 0; i < 2; i++) {
    const ws = await connect(`${url}/echo`)
    ws.close()
    await once(ws, 'close')
  }
  const limited = await rawUpgrade(url, '/echo')
  assert.equal(limited.statusCode, 429)
  assert.equal(limited.headers.connection, 'close')
  assert.equal(limited.headers['retry-after'], '60')
  const strict = await connect(`${url}/strict`)
  strict.close()
  assert.equal((await rawUpgrade(url, '/strict')).statusCode, 429)
})
