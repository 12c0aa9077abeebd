import assert from 'node:assert/strict'
import { test } from 'node:test'
import fp from 'fastify-plugin'
import { buildApp, connect, echoRoute, listen, rawUpgrade } from '../helpers/upgrade.js'
import { once } from '../helpers/wait.js'

test('onUpgrade takes a function or an array, async or with done, and runs them in order', async (t) => {
  const app = await buildApp(t)
  const calls = []
  echoRoute(app, '/one', { onUpgrade: async () => { calls.push('one') } })
  echoRoute(app, '/many', {
    onUpgrade: [
      async () => { calls.push('a') },
      (request, reply, done) => { calls.push('b'); setImmediate(done) },
      async () => { calls.push('c') }
    ]
  })
  const url = await listen(app)
  for (const path of ['/one', '/many']) {
    const ws = await connect(url + path)
    ws.close()
    await once(ws, 'close')
  }
  assert.deepEqual(calls, ['one', 'a', 'b', 'c'])
})

test('onUpgrade hooks run only for upgrade requests', async (t) => {
  const app = await buildApp(t)
  let ran = 0
  app.addUpgradeHook(async () => { ran++ })
  app.get('/both', { onUpgrade: async () => { ran++ } }, async (request, reply) => {
    if (!request.isUpgrade) return { hint: 'connect with a WebSocket' }
    const socket = await reply.upgrade()
    socket.close(1000)
  })
  const response = await app.inject('/both')
  assert.deepEqual(response.json(), { hint: 'connect with a WebSocket' })
  assert.equal(ran, 0)
  const url = await listen(app)
  const ws = await connect(`${url}/both`)
  await once(ws, 'close')
  assert.equal(ran, 2)
})

test('addUpgradeHook is encapsulated like addHook, context hooks before route hooks', async (t) => {
  const app = await buildApp(t)
  const calls = []
  app.addUpgradeHook(async () => { calls.push('root') })
  await app.register(async (child) => {
    child.addUpgradeHook(async () => { calls.push('child') })
    echoRoute(child, '/child', { onUpgrade: async () => { calls.push('route') } })
    await child.register(async (grandchild) => {
      grandchild.addUpgradeHook(async function () { calls.push(`grandchild:${this.tag}`) })
      grandchild.decorate('tag', 'g')
      echoRoute(grandchild, '/grandchild')
    })
  })
  echoRoute(app, '/root')
  const url = await listen(app)
  for (const path of ['/root', '/child', '/grandchild']) {
    const ws = await connect(url + path)
    ws.close()
    await once(ws, 'close')
    calls.push('|')
  }
  assert.deepEqual(calls, ['root', '|', 'root', 'child', 'route', '|', 'root', 'child', 'grandchild:g', '|'])
})

test('a hook added after the route, in the same context, still applies', async (t) => {
  const app = await buildApp(t)
  echoRoute(app, '/late')
  app.addUpgradeHook(async (request, reply) => reply.code(401).send({ error: 'late hook' }))
  const url = await listen(app)
  const response = await rawUpgrade(url, '/late')
  assert.equal(response.statusCode, 401)
})

test('onUpgrade runs after preValidation hooks and before schema validation', async (t) => {
  const app = await buildApp(t)
  const calls = []
  app.addHook('preValidation', async () => { calls.push('app preValidation') })
  echoRoute(app, '/order', {
    schema: { querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } },
    preValidation: async () => { calls.push('route preValidation') },
    onUpgrade: async (request, reply) => {
      calls.push('onUpgrade')
      if (request.query.token === undefined) return reply.code(401).send({ error: 'no token' })
    }
  })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/order')
  // The hook answered before validation could answer 400.
  assert.equal(response.statusCode, 401)
  assert.deepEqual(calls, ['app preValidation', 'route preValidation', 'onUpgrade'])
})

test('a hook that replies stops the chain; one that throws goes to the error handler', async (t) => {
  const app = await buildApp(t)
  const calls = []
  echoRoute(app, '/reply', {
    onUpgrade: [
      async (request, reply) => { calls.push('first'); return reply.code(403).send() },
      async () => { calls.push('never') }
    ]
  })
  echoRoute(app, '/throw', {
    onUpgrade: [
      (request, reply, done) => { calls.push('done(err)'); done(Object.assign(new Error('nope'), { statusCode: 451 })) },
      async () => { calls.push('never') }
    ]
  })
  const url = await listen(app)
  assert.equal((await rawUpgrade(url, '/reply')).statusCode, 403)
  const thrown = await rawUpgrade(url, '/throw')
  assert.equal(thrown.statusCode, 451)
  assert.equal(thrown.json().message, 'nope')
  assert.deepEqual(calls, ['first', 'done(err)'])
})

test('invalid hooks are refused with one code per cause, as addHook refuses them', async (t) => {
  const app = await buildApp(t)
  assert.throws(() => app.addUpgradeHook('nope'), { code: 'FST_COLLAB_HOOK_INVALID_HANDLER', message: 'onUpgrade hook should be a function, instead got [object String]' })
  assert.throws(() => app.get('/bad', { onUpgrade: [42] }, async () => {}), { code: 'FST_COLLAB_HOOK_INVALID_HANDLER' })
  // An async hook that also takes `done` would advance the chain twice.
  assert.throws(() => app.addUpgradeHook(async (request, reply, done) => done()), { code: 'FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER' })
  assert.throws(() => app.get('/bad-async', { onUpgrade: async (request, reply, done) => done() }, async () => {}), { code: 'FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER' })
  await app.ready()
  assert.throws(() => app.addUpgradeHook(async () => {}), { code: 'FST_COLLAB_HOOK_AFTER_READY' })
})

test('a synchronous throw in a hook goes to the error handler', async (t) => {
  const app = await buildApp(t)
  echoRoute(app, '/sync', { onUpgrade: () => { throw Object.assign(new Error('sync'), { statusCode: 409 }) } })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/sync')
  assert.equal(response.statusCode, 409)
  assert.equal(response.json().message, 'sync')
})

test('a hook added in a fastify-plugin plugin applies to its parent\'s routes', async (t) => {
  const app = await buildApp(t)
  await app.register(fp(async (instance) => {
    instance.addUpgradeHook(async (request, reply) => reply.code(401).send({ error: 'from fp' }))
  }))
  echoRoute(app, '/guarded')
  const url = await listen(app)
  const response = await rawUpgrade(url, '/guarded')
  assert.equal(response.statusCode, 401)
  assert.deepEqual(response.json(), { error: 'from fp' })
})
