import { test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLog } from '../helpers/log.js'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { startCollabServer } from '../helpers/server.js'
import * as Y from 'yjs'
import { deferred, waitFor } from '../helpers/wait.js'
import { rawClient, hp, hpAuth, isHp, hpUpdate, textUpdate, syncStatusOf, deniedReason, ywsStep1, ywsUpdate } from '../helpers/raw-client.js'

// Issue 7 §2 and §5: the per-socket bounds (Connection), each one past the
// limit (refused) and at it (works), with the other clients unaffected.

/** An app with the plugin and one route of the test's own, listening; closed after the test. @returns the ws:// base URL */
async function appWithRoute (t, path, handler) {
  const app = Fastify()
  await app.register(fastifyCollab)
  app.get(path, handler(app))
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => app.close())
  return { app, base: `ws://127.0.0.1:${app.server.address().port}` }
}

/** The server-side `ws` sockets, in the order they were upgraded. */
function serverSockets (app) {
  const sockets = []
  app.websocketServer.on('connection', socket => sockets.push(socket))
  return sockets
}

const warnings = (capture, limit) => capture.lines.filter(line => line.level === 40 && line.limit === limit)

test('maxDocumentsPerSocket: the extra document gets PermissionDenied, the others keep working, one warn line', async t => {
  const capture = captureLog()
  const { url, app } = await startCollabServer(t, { maxDocumentsPerSocket: 2 }, { fastify: { logger: capture.logger } })
  const client = await rawClient(t, url)
  client.send(hpAuth('one'))
  client.send(hpAuth('two'))
  await client.next(isHp('one', 2, 2), { what: 'Authenticated one' })
  await client.next(isHp('two', 2, 2), { what: 'Authenticated two (at the limit)' })
  client.send(hpAuth('three'))
  assert.match(deniedReason(await client.next(isHp('three', 2, 1), { what: 'PermissionDenied three' })), /already has 2 documents/)
  client.send(hpAuth('four'))
  await client.next(isHp('four', 2, 1))
  assert.equal(app.collab.documents.has('three'), false)
  client.send(hpUpdate('two', textUpdate('still served')))
  assert.equal(syncStatusOf(await client.next(isHp('two', 8))), 1)
  // A CLOSE frees a place.
  client.send(hpUpdate('one', textUpdate('x')))
  await client.next(isHp('one', 8))
  client.send(hp('one', 7))
  client.send(hpAuth('five'))
  await client.next(isHp('five', 2, 2), { what: 'Authenticated five after a CLOSE' })
  assert.equal(warnings(capture, 'maxDocumentsPerSocket').length, 1, 'warned once per socket')
})

test('maxDocumentNameLength: refused before any hook, counted in UTF-8 bytes, for both client kinds', async t => {
  let connects = 0
  const { url, app } = await startCollabServer(t, { maxDocumentNameLength: 8, onConnect () { connects++ } })
  const client = await rawClient(t, url)
  client.send(hpAuth('abcdefgh'))
  await client.next(isHp('abcdefgh', 2, 2), { what: 'an 8-byte name (at the limit)' })
  assert.equal(connects, 1)
  const long = 'äöüßé' // 5 characters, 10 bytes
  client.send(hpAuth(long))
  assert.match(deniedReason(await client.next(isHp(long, 2, 1))), /longer than 8 bytes/)
  assert.equal(connects, 1, 'no hook ran for the long name')
  assert.equal(app.collab.documents.has(long), false)

  const yws = await rawClient(t, `${url}/${encodeURIComponent(long)}`)
  yws.send(ywsStep1())
  const denied = await yws.next()
  assert.deepEqual([...denied.slice(0, 2)], [2, 0], 'y-protocols PermissionDenied')
  assert.equal((await yws.closed).code, 4403)
  assert.equal(connects, 1)
  const ok = await rawClient(t, `${url}/abcdefgh`)
  ok.send(ywsStep1())
  await ok.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2 for an 8-byte y-websocket name' })
})

test('maxAuthFailures: the refusal that reaches it closes the socket with 4429; below it the socket serves its other documents', async t => {
  const { url } = await startCollabServer(t, {
    maxAuthFailures: 3,
    onAuthenticate ({ documentName }) { if (documentName.startsWith('no')) throw new Error('refused') }
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('no-1'))
  client.send(hpAuth('no-2'))
  await client.next(isHp('no-1', 2, 1))
  await client.next(isHp('no-2', 2, 1))
  client.send(hpAuth('yes'))
  await client.next(isHp('yes', 2, 2), { what: 'Authenticated after two refusals' })
  client.send(hpAuth('no-3'))
  await client.next(isHp('no-3', 2, 1))
  assert.equal((await client.closed).code, 4429)
})

test('answers before authentication count against the auth queue: a socket that only pings is closed past authQueueMaxFrames', async t => {
  const { url } = await startCollabServer(t, { authQueueMaxFrames: 5 })
  const client = await rawClient(t, url)
  for (let i = 0; i < 5; i++) client.send(Uint8Array.of(9))
  for (let i = 0; i < 5; i++) await client.next(f => f.length === 1 && f[0] === 10, { what: `Pong ${i + 1}` })
  client.send(Uint8Array.of(9))
  assert.equal((await client.closed).code, 4205)

  // Once a document is attached, Pongs are free.
  const attached = await rawClient(t, url)
  attached.send(hpAuth('pinger'))
  await attached.next(isHp('pinger', 2, 2))
  for (let i = 0; i < 20; i++) attached.send(Uint8Array.of(9))
  for (let i = 0; i < 20; i++) await attached.next(f => f.length === 1 && f[0] === 10)
  attached.send(hpUpdate('pinger', textUpdate('open')))
  assert.equal(syncStatusOf(await attached.next(isHp('pinger', 8))), 1)
})

test('reading pauses while an authentication runs: frames sent meanwhile wait in the kernel, not in a queue, and all arrive in order', async t => {
  const gate = deferred('the test to let onAuthenticate finish')
  const authenticating = deferred('onAuthenticate to start')
  const { app, url } = await startCollabServer(t, {
    authQueueMaxFrames: 10,
    async onAuthenticate () {
      authenticating.resolve()
      await gate.promise
    }
  })
  t.after(() => gate.resolve())
  const sockets = serverSockets(app)
  const client = await rawClient(t, url)
  client.send(hpAuth('paused'))
  await authenticating.wait()
  assert.equal(sockets[0].isPaused, true, 'the server stopped reading')
  const doc = new Y.Doc()
  for (let i = 0; i < 50; i++) client.send(hpUpdate('paused', textUpdate(`${i % 10}`, doc)))
  gate.resolve()
  await client.next(isHp('paused', 2, 2))
  for (let i = 0; i < 50; i++) assert.equal(syncStatusOf(await client.next(isHp('paused', 8))), 1)
  assert.equal(sockets[0].isPaused, false)
  assert.equal(app.collab.documents.get('paused').getText('text').toString(), '0123456789'.repeat(5))
})

test('reading pauses while beforeHandleMessage decides, and resumes after', async t => {
  const called = deferred('onAuthenticate to be called')
  const gate = deferred('the test to let onAuthenticate answer')
  const { app, url } = await startCollabServer(t, {
    beforeHandleMessage () {
      called.resolve()
      return gate.promise
    }
  })
  t.after(() => gate.resolve())
  const sockets = serverSockets(app)
  const client = await rawClient(t, url + '/hook')
  client.send(ywsStep1())
  await called.wait()
  assert.equal(sockets[0].isPaused, true)
  gate.resolve()
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2 once the hook let it through' })
  assert.equal(sockets[0].isPaused, false)
})

test('handleConnection twice on one socket throws FST_COLLAB_SOCKET_IN_USE and leaves the first one serving', async t => {
  const errors = []
  const { app, base } = await appWithRoute(t, '/twice', app => async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request, 'twice')
    try {
      app.collab.handleConnection(socket, request, 'twice')
    } catch (error) {
      errors.push(error)
    }
  })
  const client = await rawClient(t, `${base}/twice`)
  client.send(ywsStep1())
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  assert.equal(errors.length, 1)
  assert.equal(errors[0].code, 'FST_COLLAB_SOCKET_IN_USE')
  client.send(ywsUpdate(textUpdate('once')))
  await client.next(f => f[0] === 0 && f[1] === 2, { what: 'the echo' })
  assert.equal(app.collab.getConnectionsCount(), 1)
})

test('handleConnection on a socket whose route validates its messages throws FST_COLLAB_SOCKET_VALIDATES_MESSAGES', async t => {
  const app = Fastify()
  await app.register(fastifyCollab)
  const errors = []
  app.get('/json', { schema: { message: { type: 'object' } } }, async (request, reply) => {
    const socket = await reply.upgrade()
    try {
      app.collab.handleConnection(socket, request, 'json')
    } catch (error) {
      errors.push(error)
      socket.close(1000)
    }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => app.close())
  const client = await rawClient(t, `ws://127.0.0.1:${app.server.address().port}/json`)
  await client.closed
  assert.deepEqual(errors.map(error => error.code), ['FST_COLLAB_SOCKET_VALIDATES_MESSAGES'])
})

test('a handler that awaits before handleConnection pauses the socket first, and no frame is lost', async t => {
  const upgraded = deferred('the route to upgrade')
  const lookedUp = deferred('the lookup the route waits for')
  const { app, base } = await appWithRoute(t, '/late/:document', app => async (request, reply) => {
    const socket = await reply.upgrade()
    socket.pause()
    upgraded.resolve(socket)
    await lookedUp.promise // e.g. a database lookup
    app.collab.handleConnection(socket, request, request.params.document)
  })
  const client = await rawClient(t, `${base}/late/doc`)
  const socket = await upgraded.wait()
  const frames = [ywsStep1(), ywsUpdate(textUpdate('early'))]
  for (const frame of frames) client.send(frame)
  // The frames reached the server before handleConnection; no event tells, the stream's buffer does.
  const bytes = frames.reduce((sum, frame) => sum + frame.length + 6, 0)
  await waitFor(() => socket._socket.readableLength >= bytes, { what: 'the early frames in the paused socket' })
  lookedUp.resolve()
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2 for the early SyncStep1' })
  await client.next(f => f[0] === 0 && f[1] === 2, { what: 'the echo of the early update' })
  assert.equal(app.collab.documents.get('doc').getText('text').toString(), 'early')
})

test('every bound is validated at registration: a negative, infinite or non-number value throws FST_COLLAB_INVALID_OPTION', async t => {
  for (const key of ['maxDocumentsPerSocket', 'maxDocumentNameLength', 'maxAuthFailures', 'maxAwarenessStateBytes', 'maxAwarenessStates', 'maxAwarenessClientsPerConnection', 'maxDocumentBytes', 'maxUnstoredBytes']) {
    for (const value of [-1, Infinity, '10']) {
      const app = Fastify()
      t.after(() => app.close())
      app.register(fastifyCollab, { [key]: value })
      await assert.rejects(app.ready(), { code: 'FST_COLLAB_INVALID_OPTION', message: new RegExp(key) }, `${key}: ${value}`)
    }
  }
})
