// The public surface, as Fastify core's (issue 10 §1 and §4, issue 7 §6): what a
// plain route gets, errors of hooks that throw anything, the 426 through an
// app's own error handler, log lines of upgraded sockets, ws's own tracking.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { captureLog } from '../helpers/log.js'
import { deferred, when, once } from '../helpers/wait.js'
import { buildApp, connect, echoRoute, listen, rawUpgrade } from '../helpers/upgrade.js'

test('a plain GET route gets no hook from the plugin; a route that onUpgrade hooks apply to gets one preValidation runner', async (t) => {
  const app = await buildApp(t)
  app.get('/plain', async () => ({ plain: true }))
  app.get('/own-hook', { onUpgrade: async () => {} }, async () => ({}))
  await app.register(async (child) => {
    child.get('/declared-before-the-hook', async () => ({}))
    child.addUpgradeHook(async () => {})
    child.get('/declared-after-the-hook', async () => ({}))
  })
  await app.register(async (sibling) => {
    sibling.get('/sibling', async () => ({}))
  })
  await app.ready()
  const hooksOf = (path) => {
    const block = app.printRoutes({ includeHooks: true, commonPrefix: false }).split('\n')
    const start = block.findIndex((line) => line.includes(`${path} (GET)`))
    const lines = []
    for (const line of block.slice(start + 1)) {
      if (!line.includes('•')) break
      lines.push(line.slice(line.indexOf('•')))
    }
    return lines
  }
  assert.deepEqual(hooksOf('/plain'), [])
  assert.deepEqual(hooksOf('/sibling'), [])
  for (const path of ['/own-hook', '/declared-before-the-hook', '/declared-after-the-hook']) {
    assert.deepEqual(hooksOf(path), ['• (preValidation) ["runUpgradeHooks()"]'], path)
  }
  assert.deepEqual((await app.inject('/plain')).json(), { plain: true })
})

test('a hook that throws or rejects with a non-Error keeps it, as Fastify\'s hook runner does', async (t) => {
  const app = await buildApp(t)
  echoRoute(app, '/throws', { onUpgrade: () => { throw Object.assign(Object.create(null), { statusCode: 401, message: 'who are you' }) } })
  echoRoute(app, '/rejects', { onUpgrade: async () => { throw { statusCode: 403 } } }) // eslint-disable-line no-throw-literal
  echoRoute(app, '/done', { onUpgrade: (request, reply, done) => done({ statusCode: 429 }) })
  echoRoute(app, '/nothing', { onUpgrade: async () => { throw undefined } }) // eslint-disable-line no-throw-literal
  const url = await listen(app)
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
  t.after(() => {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUnhandled)
  })
  assert.equal((await rawUpgrade(url, '/throws')).statusCode, 401)
  assert.equal((await rawUpgrade(url, '/rejects')).statusCode, 403)
  assert.equal((await rawUpgrade(url, '/done')).statusCode, 429)
  // A rejection without a reason: Fastify's own error for it.
  const nothing = await rawUpgrade(url, '/nothing')
  assert.equal(nothing.statusCode, 500)
  assert.equal(nothing.json().code, 'FST_ERR_SEND_UNDEFINED_ERR')
  assert.deepEqual(unhandled, [])
})

test('an errorHandler that rejects or throws closes the socket with 1011 and logs; never an unhandled rejection', async (t) => {
  const { lines, logger } = captureLog()
  const handled = deferred('the error handler')
  const app = await buildApp(t, {
    fastify: { logger },
    plugin: {
      async errorHandler (error, socket, request) {
        handled.resolve(error)
        throw { reason: 'the handler of errors failed too' } // eslint-disable-line no-throw-literal
      }
    }
  })
  app.get('/ws', async (request, reply) => {
    await reply.upgrade()
    throw { statusCode: 418 } // eslint-disable-line no-throw-literal
  })
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  const [code] = await once(ws, 'close')
  assert.equal(code, 1011)
  assert.deepEqual(await handled.wait(), { statusCode: 418 })
  const errors = lines.filter((line) => line.level === 50)
  assert.equal(errors.length, 1)
  assert.equal(errors[0].msg, 'The WebSocket errorHandler rejected')
  assert.equal(errors[0].err.reason, 'the handler of errors failed too')
  // One more turn for a rejection that nobody handled to surface.
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(unhandled, [])
})

test('the 426 to reply.upgrade() on a plain request carries Upgrade: websocket, also through the app\'s own error handler', async (t) => {
  const app = await buildApp(t)
  app.setErrorHandler((error, request, reply) => reply.code(error.statusCode).send({ mine: error.code }))
  app.get('/ws', async (request, reply) => reply.upgrade())
  const response = await app.inject('/ws')
  assert.equal(response.statusCode, 426)
  assert.equal(response.headers.upgrade, 'websocket')
  assert.equal(response.headers.connection, 'Upgrade')
  assert.deepEqual(response.json(), { mine: 'FST_COLLAB_NOT_UPGRADE_REQUEST' })
})

test('log lines of upgraded sockets come from the request\'s logger: Fastify\'s requestIdLogLabel and the app\'s childLoggerFactory', async (t) => {
  const { events, logger } = captureLog()
  const app = await buildApp(t, { fastify: { logger, requestIdLogLabel: 'rid' } })
  app.setChildLoggerFactory(function (parent, bindings, options, rawRequest) {
    return parent.child({ ...bindings, path: rawRequest.url }, options)
  })
  const ids = []
  app.get('/ws', async (request, reply) => {
    ids.push(request.id)
    await reply.upgrade()
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  const logged = when(events, 'line', { predicate: (line) => line.msg === 'WebSocket error' })
  // A reserved opcode (0x3): ws emits an 'error' and closes with 1002.
  ws._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]))
  const [line] = await logged
  assert.equal(line.rid, ids[0])
  assert.equal(line.path, '/ws')
  assert.equal(line.reqId, undefined)
  await once(ws, 'close')
})

test('ws\'s own client tracking is off: the plugin keeps its own registry', async (t) => {
  const app = await buildApp(t)
  await app.ready()
  assert.equal(app.websocketServer.options.clientTracking, false)
  assert.equal(app.websocketServer.clients, undefined)
})
