import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startCollabServer, synced, acknowledged } from '../helpers/server.js'
import { when, untilDocs, deferred } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { rawClient, hp, hpAuth, isHp, readHp } from '../helpers/raw-client.js'

// The intent of Hocuspocus's hook tests, with real providers.

test('context flows from handleConnection through onConnect and onAuthenticate into every later hook', async t => {
  const { hooks, calls, until } = recordHooks(['onLoadDocument', 'connected', 'onChange', 'onDisconnect'])
  const seen = {}
  const { hocus, yws, drop } = await startCollabServer(t, {
    async onConnect ({ context, request, documentName, protocol }) {
      seen.connect = { ...context, protocol, documentName, url: request.url }
      return { fromConnect: 1 }
    },
    async onAuthenticate ({ context, token, providerVersion, protocol }) {
      seen[protocol] = { ...context, token, providerVersion }
      return { fromAuth: token ?? 'none' }
    },
    ...hooks
  }, { context: () => ({ fromRoute: 'yes' }) })

  const h = hocus('ctx', { token: 'secret' })
  await synced(h)
  assert.deepEqual(seen.connect, { fromRoute: 'yes', protocol: 'hocuspocus', documentName: 'ctx', url: '/collab' })
  assert.deepEqual(seen.hocuspocus.fromConnect, 1)
  assert.equal(seen.hocuspocus.token, 'secret')
  assert.match(seen.hocuspocus.providerVersion, /^4\./)
  await until('connected')
  const expected = { fromRoute: 'yes', fromConnect: 1, fromAuth: 'secret' }
  assert.deepEqual(calls.onLoadDocument[0].context, expected)
  assert.deepEqual(calls.connected[0].context, expected)
  assert.equal(calls.connected[0].connection.documentName, 'ctx')

  h.document.getText('text').insert(0, 'x')
  await until('onChange')
  assert.deepEqual(calls.onChange[0].context, expected)
  assert.equal(calls.onChange[0].origin.source, 'connection')
  assert.equal(calls.onChange[0].request.url, '/collab')

  // y-websocket clients go through the same hooks, with the token undefined.
  const y = yws('ctx')
  await synced(y)
  assert.equal(seen['y-websocket'].token, undefined)
  drop(y)
  await until('onDisconnect')
  assert.deepEqual(calls.onDisconnect[0].context, { fromRoute: 'yes', fromConnect: 1, fromAuth: 'none' })
})

test('an onAuthenticate failure refuses with the reason the app meant for the client, and no document is ever loaded', async t => {
  let loads = 0
  const { app, hocus } = await startCollabServer(t, {
    onAuthenticate ({ token }) {
      // Hocuspocus hooks refuse with `{ reason }`; a 4xx error's message is meant for the client too, as
      // Fastify sends a 4xx reply error's message. Anything else stays in the log.
      if (token === 'object') throw Object.assign(new Error('ignored'), { reason: 'custom reason' })
      if (token === 'internal') throw new Error('connect ECONNREFUSED 10.0.0.7:5432')
      if (token !== 'good') throw Object.assign(new Error('bad token'), { statusCode: 401 })
    },
    onLoadDocument () { loads++ }
  })
  const refused = hocus('auth', { token: 'bad' })
  const [{ reason }] = await when(refused, 'authenticationFailed')
  assert.equal(reason, 'bad token')
  const [{ reason: custom }] = await when(hocus('auth', { token: 'object' }), 'authenticationFailed')
  assert.equal(custom, 'custom reason')
  const [{ reason: internal }] = await when(hocus('auth', { token: 'internal' }), 'authenticationFailed')
  assert.equal(internal, 'permission-denied', 'an internal error never reaches the client')
  assert.equal(loads, 0)
  assert.equal(app.collab.getDocumentsCount(), 0)
  const accepted = hocus('auth', { token: 'good' })
  await synced(accepted)
  assert.equal(loads, 1)
})

test('extensions run by priority, higher first, the top-level hooks last; the first throw stops the chain', async t => {
  const order = []
  const extension = (name, priority) => ({
    priority,
    onConnect () { order.push(`connect:${name}`) },
    onLoadDocument () { order.push(`load:${name}`); if (name === 'stop') throw new Error('stop here') }
  })
  const { hocus } = await startCollabServer(t, {
    extensions: [extension('default'), extension('low', 10), extension('high', 200), extension('default-2')],
    onConnect () { order.push('connect:top') },
    onLoadDocument () { order.push('load:top') }
  })
  const h = hocus('prio')
  await synced(h)
  assert.deepEqual(order, [
    'connect:high', 'connect:default', 'connect:default-2', 'connect:low', 'connect:top',
    'load:high', 'load:default', 'load:default-2', 'load:low', 'load:top'
  ])

  order.length = 0
  const second = await startCollabServer(t, { extensions: [extension('first', 300), extension('stop', 200), extension('never', 100)] })
  const denied = second.hocus('prio')
  await when(denied, 'authenticationFailed')
  assert.deepEqual(order, ['connect:first', 'connect:stop', 'connect:never', 'load:first', 'load:stop'])
})

test('onLoadDocument may return a Y.Doc or an update; onChange does not fire for the load', async t => {
  const seed = new Y.Doc()
  seed.getText('text').insert(0, 'seeded')
  const { hooks, calls, until } = recordHooks(['onChange'])
  const { hocus } = await startCollabServer(t, {
    extensions: [{ priority: 200, onLoadDocument: ({ documentName }) => documentName === 'doc' ? seed : undefined }],
    onLoadDocument: ({ documentName }) => documentName === 'update' ? Y.encodeStateAsUpdate(seed) : undefined,
    ...hooks
  })
  const a = hocus('doc')
  const b = hocus('update')
  await Promise.all([synced(a), synced(b)])
  await untilDocs([a.document, b.document], () => a.document.getText('text').toString() === 'seeded' && b.document.getText('text').toString() === 'seeded')
  assert.equal(calls.onChange.length, 0)
  a.document.getText('text').insert(0, '+')
  await until('onChange')
  assert.equal(calls.onChange.length, 1)
})

test('a malformed update returned by onLoadDocument fails as that hook: logged, the client denied, no document left', async t => {
  const logs = []
  const { url, app } = await startCollabServer(t, {
    async onLoadDocument () { return new Uint8Array([255, 255, 255]) }
  }, { fastify: { logger: { level: 'error', stream: { write: line => logs.push(JSON.parse(line)) } } } })
  const client = await rawClient(t, url)
  client.send(hpAuth('corrupt'))
  await client.next(isHp('corrupt', 2, 1), { what: 'PermissionDenied' })
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.ok(logs.some(l => l.hook === 'onLoadDocument' && l.documentName === 'corrupt'), 'logged as the hook failure')
})

test('onChange is awaited before SyncStatus; an onChange throw is logged with the document name and answered with SyncStatus 0', async t => {
  const logs = []
  const gate = deferred('the test to let the hook finish')
  let fail = false
  const { hocus } = await startCollabServer(t, {
    async onChange () {
      await gate.promise
      if (fail) throw new Error('cannot persist')
    }
  }, { fastify: { logger: { level: 'error', stream: { write: line => logs.push(JSON.parse(line)) } } } })
  const h = hocus('ack')
  await synced(h)
  await acknowledged(h)
  h.document.getText('text').insert(0, 'x')
  // The update is broadcast at once, but its acknowledgement waits for onChange.
  const other = hocus('ack')
  await synced(other)
  await untilDocs([other.document], () => other.document.getText('text').toString() === 'x')
  assert.equal(h.unsyncedChanges, 1)
  gate.resolve()
  await acknowledged(h)

  fail = true
  const unhandled = []
  const onUnhandled = error => unhandled.push(error)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const raw = await rawClient(t, h.configuration.websocketProvider.configuration.url)
  raw.send(hpAuth('ack'))
  await raw.next(isHp('ack', 2, 2))
  const update = new Y.Doc()
  update.getText('text').insert(0, 'y')
  raw.send(hp('ack', 0, e => { encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(update)) }))
  const status = readHp(await raw.next(isHp('ack', 8), { what: 'SyncStatus' }))
  assert.equal(decoding.readVarInt(status.d), 0, 'a failed onChange answers SyncStatus 0')
  const line = logs.find(l => l.hook === 'onChange')
  assert.ok(line, 'the onChange error is logged')
  assert.equal(line.documentName, 'ack')
  assert.equal(line.err.message, 'cannot persist')
  assert.deepEqual(unhandled, [])
})

test('onAwarenessUpdate carries the request and socket id of the connection that sent the state', async t => {
  const { hooks, until } = recordHooks(['onAwarenessUpdate'])
  const { hocus } = await startCollabServer(t, hooks)
  const h = hocus('presence')
  await synced(h)
  h.setAwarenessField('user', 'ada')
  await until('onAwarenessUpdate', call => call.states.some(state => state.user === 'ada') &&
    call.request?.url === '/collab' && call.socketId === call.request.id)
})

test('fire-and-forget hooks (onAwarenessUpdate, onStateless, connected, onDisconnect) never make an unhandled rejection', async t => {
  const unhandled = []
  const onUnhandled = error => unhandled.push(error)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const statelessSeen = deferred('onStateless')
  const { hocus, drop } = await startCollabServer(t, {
    async connected () { throw new Error('connected') },
    async onAwarenessUpdate () { throw new Error('awareness') },
    async onStateless ({ payload, connection }) {
      statelessSeen.resolve(payload)
      connection.sendStateless('pong:' + payload)
      throw new Error('stateless')
    },
    async onDisconnect () { throw new Error('disconnect') }
  })
  const h = hocus('fire')
  await synced(h)
  h.setAwarenessField('user', 'x')
  h.sendStateless('ping')
  assert.equal(await statelessSeen.wait(), 'ping')
  const [{ payload }] = await when(h, 'stateless')
  assert.equal(payload, 'pong:ping')
  drop(h)
  const again = hocus('fire')
  await synced(again)
  assert.deepEqual(unhandled, [])
})

test('beforeHandleMessage sees each frame in order before it is handled; a throw closes the socket with 4403', async t => {
  const seen = []
  const { url, app } = await startCollabServer(t, {
    async beforeHandleMessage ({ update, documentName, connection }) {
      assert.equal(connection.documentName, documentName)
      seen.push(readHp(update).type)
      // Slow down the first frame: the next ones must still wait their turn.
      if (seen.length === 1) await new Promise(resolve => setImmediate(resolve))
      if (readHp(update).type === 5) throw new Error('no stateless here')
    }
  })
  const raw = await rawClient(t, url)
  raw.send(hpAuth('bhm'))
  await raw.next(isHp('bhm', 2, 2))
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'a')
  raw.send(hp('bhm', 0, e => { encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(doc)) }))
  raw.send(hp('bhm', 3))
  await raw.next(isHp('bhm', 8), { what: 'SyncStatus' })
  assert.equal(app.collab.documents.get('bhm').getText('text').toString(), 'a')
  assert.deepEqual(seen, [0, 3])
  raw.send(hp('bhm', 5, e => encoding.writeVarString(e, 'hi')))
  assert.equal((await raw.closed).code, 4403)
})
