// Early frames (issue 19 §5): what a client sends between the 101 and the
// moment the app reads the socket (its first 'message' listener, or
// fastify.collab.handleConnection) is held and delivered in order, with no app
// code: a handler may await a database lookup first. What is held is bounded
// by authQueueMaxBytes / authQueueMaxFrames: past them, close 4205.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Sender } from 'ws'
import { captureLog } from '../helpers/log.js'
import { connectClients, synced } from '../helpers/server.js'
import { deferred, when } from '../helpers/wait.js'
import { buildApp, connect, KEY, listen } from '../helpers/upgrade.js'

/**
 * What a route handler does before it reads the socket: a lookup of 100 ms. It
 * also waits for the first bytes the client sends after the 101 (the raw TCP
 * socket's 'data', read by ws first), so that they are early for sure, however
 * slow the machine.
 */
function lookUp (socket) {
  return Promise.all([when(socket._socket, 'data', { what: 'the client\'s first bytes' }), delay(100)])
}

/** Resolves once the server's TCP socket under `socket` has read `bytes` more bytes. */
function bytesArrived (socket, bytes) {
  return new Promise((resolve) => {
    let read = 0
    socket._socket.on('data', function count (chunk) {
      read += chunk.length
      if (read < bytes) return
      socket._socket.removeListener('data', count)
      resolve()
    })
  })
}

/** Bytes of one masked client frame (RFC 6455 §5.2) with a payload under 126 bytes. */
const wireSize = (payload) => 2 + 4 + payload

/** The `fastify-collab:limit` events of `app` while the test runs. */
function limitEvents (t, app) {
  const events = []
  const onLimit = (event) => { if (event.instance === app.collab) events.push(event.limit) }
  subscribe('fastify-collab:limit', onLimit)
  t.after(() => unsubscribe('fastify-collab:limit', onLimit))
  return events
}

test('a y-websocket and a Hocuspocus provider sync through a handler that awaits 100 ms before handleConnection', async (t) => {
  const app = await buildApp(t)
  app.get('/late', async (request, reply) => {
    const socket = await reply.upgrade()
    await lookUp(socket)
    app.collab.handleConnection(socket, request)
  })
  app.get('/late/:document', async (request, reply) => {
    const socket = await reply.upgrade()
    await lookUp(socket)
    app.collab.handleConnection(socket, request, request.params.document)
  })
  const url = await listen(app)
  const direct = await app.collab.openDirectConnection('greeting')
  await direct.transact((doc) => doc.getText('text').insert(0, 'hello'))
  const clients = connectClients(`${url}/late`)
  t.after(() => clients.destroyAll())

  // Each opens with its first frame at once (y-websocket: SyncStep1; Hocuspocus: Auth) and never sends it again.
  const yws = clients.yws('greeting')
  const hocus = clients.hocus('greeting')
  await Promise.all([synced(yws), synced(hocus)])
  assert.equal(yws.doc.getText('text').toString(), 'hello')
  assert.equal(hocus.document.getText('text').toString(), 'hello')
  await direct.disconnect()
})

test('a message listener added after 100 ms gets every early frame in order, text and binary, then the later ones', async (t) => {
  const app = await buildApp(t)
  const received = []
  const last = deferred()
  const after = deferred()
  app.get('/late', async (request, reply) => {
    const socket = await reply.upgrade()
    await lookUp(socket)
    socket.on('message', (data, isBinary) => {
      const text = data.toString()
      received.push(`${isBinary ? 'binary' : 'text'} ${text}`)
      if (text === 'last') {
        last.resolve()
        socket.send('ready')
      }
      if (text === 'after') after.resolve()
    })
  })
  const client = await connect(`${await listen(app)}/late`)
  t.after(() => client.terminate())
  const sent = []
  for (let i = 0; i < 20; i++) {
    const binary = i % 2 === 0
    client.send(binary ? Buffer.from(`f${i}`) : `f${i}`)
    sent.push(`${binary ? 'binary' : 'text'} f${i}`)
  }
  client.send('last')
  await last.promise
  assert.deepEqual(received, [...sent, 'text last'])
  // Once read, the socket is ws's as ever.
  await when(client, 'message', { what: 'the echo of the held frames' })
  client.send('after')
  await after.promise
  assert.deepEqual(received.slice(-1), ['text after'])
})

test('frames stay held across once(socket, "message") calls until a listener stays', async (t) => {
  const app = await buildApp(t)
  const read = deferred()
  app.get('/once', async (request, reply) => {
    const socket = await reply.upgrade()
    await lookUp(socket)
    const texts = []
    for (let i = 0; i < 3; i++) {
      const [data] = await when(socket, 'message', { what: 'a held frame' })
      texts.push(data.toString())
    }
    read.resolve(texts)
  })
  const client = await connect(`${await listen(app)}/once`)
  t.after(() => client.terminate())
  client.send('a')
  client.send('b')
  client.send('c')
  assert.deepEqual(await read.promise, ['a', 'b', 'c'])
})

test('early frames of a route with schema.message are validated, in order, when they are delivered', async (t) => {
  const app = await buildApp(t)
  const received = []
  const done = deferred()
  app.get('/json', {
    schema: { message: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }
  }, async (request, reply) => {
    const socket = await reply.upgrade()
    await lookUp(socket)
    socket.on('message', (message) => {
      received.push(message)
      if (received.length === 3) done.resolve()
    })
  })
  const client = await connect(`${await listen(app)}/json`)
  t.after(() => client.terminate())
  for (const n of [1, 2, 3]) client.send(JSON.stringify({ n }))
  await done.promise
  assert.deepEqual(received, [{ n: 1 }, { n: 2 }, { n: 3 }])
})

test('a frame sent with the handshake, before the 101, reaches a listener added after await reply.upgrade()', async (t) => {
  const app = await buildApp(t)
  const received = deferred()
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (data) => received.resolve(data.toString()))
  })
  const { port } = new URL(await listen(app))
  const raw = net.connect(Number(port), '127.0.0.1')
  t.after(() => raw.destroy())
  await when(raw, 'connect', { what: 'the TCP connection' })
  // One write: the frame comes in the 'upgrade' event's head (RFC 6455 §4.1 forbids it; ws replays it at once).
  const frame = Buffer.concat(Sender.frame(Buffer.from('before the 101'), { fin: true, opcode: 1, mask: true, readOnly: false }))
  raw.write(Buffer.concat([Buffer.from(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`), frame]))
  assert.equal(await received.promise, 'before the 101')
})

test('authQueueMaxFrames and authQueueMaxBytes bound what is held: exactly the bounds pass, one more frame or byte closes with 4205', async (t) => {
  const capture = captureLog({ level: 'warn' })
  const app = await buildApp(t, { fastify: { logger: capture.logger }, plugin: { authQueueMaxFrames: 3, authQueueMaxBytes: 30 } })
  const limits = limitEvents(t, app)
  const delivered = {}
  // Reads once `:bytes` bytes of frames have arrived.
  app.get('/read/:bytes', async (request, reply) => {
    const socket = await reply.upgrade()
    await bytesArrived(socket, Number(request.params.bytes))
    const frames = []
    delivered.read = frames
    socket.on('message', (data) => {
      frames.push(data.toString())
      if (frames.length === 3) socket.send('read')
    })
  })
  // Reads only once the socket has closed: nothing comes then.
  app.get('/closed/:name', async (request, reply) => {
    const socket = await reply.upgrade()
    await when(socket, 'close', { what: 'the socket to close' })
    const frames = []
    delivered[request.params.name] = frames
    socket.on('message', (data) => frames.push(data))
  })
  const url = await listen(app)

  // 3 frames, 30 bytes: at both bounds.
  const atBounds = await connect(`${url}/read/${3 * wireSize(10)}`)
  t.after(() => atBounds.terminate())
  for (const text of ['0123456789', 'abcdefghij', 'ABCDEFGHIJ']) atBounds.send(text)
  await when(atBounds, 'message', { what: 'the frames at the bounds' })
  assert.deepEqual(delivered.read, ['0123456789', 'abcdefghij', 'ABCDEFGHIJ'])

  // 4 frames of 5 bytes: one frame too many.
  const tooMany = await connect(`${url}/closed/frames`)
  for (let i = 0; i < 4; i++) tooMany.send('12345')
  const [frameCode, frameReason] = await when(tooMany, 'close', { what: 'the close past the frame bound' })
  assert.equal(frameCode, 4205)
  assert.equal(frameReason.toString(), 'Reset Connection')

  // 10 + 21 bytes in 2 frames: one byte too many.
  const tooLarge = await connect(`${url}/closed/bytes`)
  tooLarge.send('0123456789')
  tooLarge.send('0123456789abcdefghijk')
  const [byteCode] = await when(tooLarge, 'close', { what: 'the close past the byte bound' })
  assert.equal(byteCode, 4205)

  // Under the bounds, but the client leaves before the app reads: dropped, no warning.
  const leaving = await connect(`${url}/closed/left`)
  leaving.send('bye')
  leaving.close(1000)
  await when(leaving, 'close', { what: 'the client to close' })

  await app.close()
  assert.deepEqual(delivered.frames, [])
  assert.deepEqual(delivered.bytes, [])
  assert.deepEqual(delivered.left, [])
  assert.deepEqual(limits, ['authQueueMaxFrames', 'authQueueMaxBytes'])
  const warnings = capture.lines.filter((line) => line.err?.code === 'FST_COLLAB_EARLY_FRAMES_FULL')
  assert.deepEqual(warnings.map((line) => [line.level, line.err.message]), [
    [40, 'More was sent before the app read the socket than authQueueMaxFrames (3) allows: closing with 4205'],
    [40, 'More was sent before the app read the socket than authQueueMaxBytes (30) allows: closing with 4205']
  ])
})
