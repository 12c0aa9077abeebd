import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WebSocket, WebSocketServer } from 'ws'
import { deferred, once } from '../helpers/wait.js'
import { captureLog } from '../helpers/log.js'
import { buildApp, connect, listen, rawHandshake, rawUpgrade } from '../helpers/upgrade.js'

test('reply.upgrade() resolves to a ws WebSocket and adds options.headers to the 101', async (t) => {
  const app = await buildApp(t)
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade({ headers: { 'x-room': 'lobby', 'set-cookie': ['a=1', 'b=2'] } })
    assert.ok(socket instanceof WebSocket)
    socket.on('message', (data) => socket.send(data))
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/ws`)
  const opened = once(ws, 'open')
  const [response] = await once(ws, 'upgrade')
  assert.equal(response.headers['x-room'], 'lobby')
  assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2'])
  await opened
  ws.send('ping')
  const [echo] = await once(ws, 'message')
  assert.equal(echo.toString(), 'ping')
  ws.close()
})

test('options.server completes the handshake with the caller\'s own noServer WebSocketServer', async (t) => {
  const app = await buildApp(t)
  const own = new WebSocketServer({ noServer: true, handleProtocols: () => 'own-protocol' })
  t.after(() => own.close())
  const connections = []
  own.on('connection', (socket) => connections.push(socket))
  app.get('/own', async (request, reply) => {
    const socket = await reply.upgrade({ server: own, headers: { 'x-own': 'yes' } })
    socket.send('from own server')
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/own`, ['own-protocol'])
  const received = once(ws, 'message')
  const [response] = await once(ws, 'upgrade')
  assert.equal(response.headers['x-own'], 'yes')
  const [message] = await received
  assert.equal(message.toString(), 'from own server')
  assert.equal(ws.protocol, 'own-protocol')
  assert.equal(connections.length, 1)
  ws.close()
})

test('on a plain HTTP request reply.upgrade() answers 426 with Upgrade: websocket', async (t) => {
  const app = await buildApp(t)
  app.get('/ws', async (request, reply) => reply.upgrade())
  const response = await app.inject('/ws')
  assert.equal(response.statusCode, 426)
  assert.equal(response.headers.upgrade, 'websocket')
  assert.equal(response.json().code, 'FST_COLLAB_NOT_UPGRADE_REQUEST')
})

test('the upgrade promise rejects with a coded error when the client is gone before the handshake', async (t) => {
  const app = await buildApp(t)
  const outcome = deferred('the outcome of reply.upgrade()')
  app.get('/slow', {
    // Hold the request until the server has seen the client's FIN.
    onUpgrade: async (request) => { await once(request.raw.socket, 'end') }
  }, async (request, reply) => {
    await reply.upgrade().then(() => outcome.resolve('resolved'), (err) => outcome.resolve(err.code))
  })
  const url = await listen(app)
  const socket = await rawHandshake(url, '/slow')
  // Half-close: ws destroys such a socket without ever calling back.
  socket.end()
  assert.equal(await outcome.wait(), 'FST_COLLAB_UPGRADE_ABORTED')
  socket.destroy()
})

test('a first message sent right on open is never lost, even after slow hooks', async (t) => {
  const app = await buildApp(t)
  app.addHook('preValidation', async () => { await new Promise((resolve) => setTimeout(resolve, 50)) })
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (data) => socket.send(`got ${data}`))
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/ws`)
  ws.on('open', () => ws.send('first'))
  const [reply] = await once(ws, 'message')
  assert.equal(reply.toString(), 'got first')
  ws.close()
})

test('after the upgrade, a returned value and reply.send() are ignored with a debug log', async (t) => {
  const { lines, logger } = captureLog({ level: 'debug' })
  const app = await buildApp(t, { fastify: { logger } })
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    reply.send({ too: 'late' })
    socket.send('still open')
    return { ignored: true }
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/ws`)
  const [message] = await once(ws, 'message')
  assert.equal(message.toString(), 'still open')
  assert.equal(ws.readyState, WebSocket.OPEN)
  const debug = lines.filter((line) => line.level === 20).map((line) => line.msg)
  assert.ok(debug.some((msg) => /reply\.send\(\) after reply\.upgrade\(\)/.test(msg)), debug.join('\n'))
  assert.ok(debug.some((msg) => /returned by a handler after reply\.upgrade\(\)/.test(msg)), debug.join('\n'))
  assert.equal(lines.filter((line) => line.level >= 40).length, 0)
  ws.close()
})

test('a handler that throws after the upgrade closes the socket with 1011 and logs the error', async (t) => {
  const { lines, logger } = captureLog({ level: 'debug' })
  const app = await buildApp(t, { fastify: { logger } })
  app.get('/ws', async (request, reply) => {
    await reply.upgrade()
    throw new Error('handler broke')
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  const [code] = await once(ws, 'close')
  assert.equal(code, 1011)
  const errors = lines.filter((line) => line.level === 50)
  assert.equal(errors.length, 1)
  assert.equal(errors[0].err.message, 'handler broke')
})

test('the errorHandler option replaces what happens after a handler error', async (t) => {
  const handled = []
  const app = await buildApp(t, {
    plugin: {
      errorHandler (error, socket, request) {
        handled.push([error.message, request.url])
        socket.close(4000, 'custom')
      }
    }
  })
  app.get('/ws', async (request, reply) => {
    await reply.upgrade()
    throw new Error('handled elsewhere')
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  const [code, reason] = await once(ws, 'close')
  assert.equal(code, 4000)
  assert.equal(reason.toString(), 'custom')
  assert.deepEqual(handled, [['handled elsewhere', '/ws']])
})

test('socket errors never crash the process: an invalid frame, and a reset while hooks run', async (t) => {
  const app = await buildApp(t)
  const started = deferred('onUpgrade to start')
  const outcome = deferred('the outcome of reply.upgrade()')
  app.get('/slow', {
    // Hold the request until the server has seen the reset.
    onUpgrade: async (request) => {
      started.resolve()
      // Not events.once: it would reject on the ECONNRESET that comes first.
      await new Promise((resolve) => request.raw.socket.once('close', resolve))
    }
  }, async (request, reply) => {
    await reply.upgrade().then(() => outcome.resolve('resolved'), (err) => outcome.resolve(err.code))
  })
  app.get('/ws', async (request, reply) => { await reply.upgrade() })
  const url = await listen(app)

  // A reserved opcode (0x3) is a protocol error: ws closes that socket with 1002.
  const ws = await connect(`${url}/ws`)
  const closed = once(ws, 'close')
  ws._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]))
  const [code] = await closed
  assert.equal(code, 1002)

  // RST while the onUpgrade hook is still running: the upgrade rejects, it does not hang.
  const socket = await rawHandshake(url, '/slow')
  await started.wait()
  socket.resetAndDestroy()
  assert.equal(await outcome.wait(), 'FST_COLLAB_UPGRADE_ABORTED')

  // The server still serves.
  const after = await connect(`${url}/ws`)
  after.close()
  await once(after, 'close')
})

// Opens a TCP connection and writes a valid opening handshake, nothing more.
// A masked client text frame (RFC 6455 §5.2) with an all-zero masking key.
function textFrame (text) {
  const payload = Buffer.from(text)
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload])
}

test('bytes a client sends before the 101 reach the WebSocket; too many end the upgrade', async (t) => {
  const app = await buildApp(t)
  const received = deferred('the early message at the server')
  const outcome = deferred('the outcome of reply.upgrade()')
  // RFC 6455 §4.1 forbids sending before the 101; bytes that come anyway are
  // replayed at once, as ws does with its head: 'connection' sees them.
  app.websocketServer.on('connection', (socket) => {
    socket.on('message', (data) => received.resolve(data.toString()))
  })
  const hookRunning = deferred('onUpgrade to start')
  app.get('/ws', {
    // Hold the request until the early bytes have arrived at the server.
    onUpgrade: async (request) => {
      hookRunning.resolve()
      await once(request.raw.socket, 'data')
    }
  }, async (request, reply) => { await reply.upgrade() })
  app.get('/flood', {
    onUpgrade: async (request) => { await new Promise((resolve) => request.raw.socket.once('close', resolve)) }
  }, async (request, reply) => {
    await reply.upgrade().then(() => outcome.resolve('resolved'), (err) => outcome.resolve(err.code))
  })
  const url = await listen(app)
  const early = await rawHandshake(url, '/ws')
  await hookRunning.wait()
  early.write(textFrame('early'))
  assert.equal(await received.wait(), 'early')
  early.destroy()

  const flood = await rawHandshake(url, '/flood')
  flood.on('error', () => {})
  flood.write(Buffer.alloc(70 * 1024))
  assert.equal(await outcome.wait(), 'FST_COLLAB_UPGRADE_ABORTED')
  flood.destroy()
})

test('bytes before the 101: exactly 64 KiB are kept, one more byte ends the upgrade', async (t) => {
  const app = await buildApp(t)
  const received = deferred('the early frame at the server')
  app.websocketServer.on('connection', (socket) => {
    socket.on('message', (data) => received.resolve(data.length))
  })
  const outcomes = {}
  const hookRunning = {}
  app.get('/early/:bytes', {
    // Hold the request until the server has read every early byte, or lost the socket.
    onUpgrade: async (request) => {
      const expected = Number(request.params.bytes)
      hookRunning[expected].resolve()
      const socket = request.raw.socket
      let read = 0
      const count = (chunk) => { read += chunk.length; if (read >= expected) socket.emit('counted') }
      socket.on('data', count)
      await new Promise((resolve) => {
        socket.once('counted', resolve)
        socket.once('close', resolve)
      })
      // Not left behind: ws replays the early bytes into the socket's 'data' listeners.
      socket.removeListener('data', count)
    }
  }, async (request, reply) => {
    await reply.upgrade().then(() => outcomes[request.params.bytes].resolve('upgraded'), (err) => outcomes[request.params.bytes].resolve(err.code))
  })
  const url = await listen(app)
  // One masked binary frame (RFC 6455 §5.2) of `total` bytes: 2 + 2 (16-bit length) + 4 (mask) + payload.
  const frameOf = (total) => {
    const length = total - 8
    return Buffer.concat([Buffer.from([0x82, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]), Buffer.alloc(length, 7)])
  }
  for (const total of [64 * 1024, 64 * 1024 + 1]) {
    outcomes[total] = deferred(`the outcome of the upgrade with ${total} early bytes`)
    hookRunning[total] = deferred(`onUpgrade to start for ${total} early bytes`)
    const socket = await rawHandshake(url, `/early/${total}`)
    socket.on('error', () => {})
    await hookRunning[total].wait()
    socket.write(frameOf(total))
    t.after(() => socket.destroy())
  }
  assert.equal(await outcomes[64 * 1024].wait(), 'upgraded')
  assert.equal(await received.wait(), 64 * 1024 - 8)
  assert.equal(await outcomes[64 * 1024 + 1].wait(), 'FST_COLLAB_UPGRADE_ABORTED')
})

test('an ignored upgrade promise does not crash the process when the client leaves', async (t) => {
  const app = await buildApp(t)
  const own = new WebSocketServer({ noServer: true })
  t.after(() => own.close())
  const handled = deferred('the route to run')
  app.get('/ws', {
    onUpgrade: async (request) => { await once(request.raw.socket, 'end') }
  }, (request, reply) => {
    // "Handle the upgrade yourself": the socket comes from own's 'connection'.
    reply.upgrade({ server: own })
    handled.resolve()
  })
  const url = await listen(app)
  const socket = await rawHandshake(url, '/ws')
  socket.end()
  await handled.wait()
  await once(socket, 'close')
  // Still alive and serving.
  assert.equal((await app.inject('/ws')).statusCode, 426)
})

test('headers for the 101 are checked: a value that would split the response is refused', async (t) => {
  const app = await buildApp(t)
  app.get('/chat/:room', async (request, reply) => {
    await reply.upgrade({ headers: { 'x-room': request.params.room } })
  })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/chat/lobby%0D%0ASet-Cookie:%20session=attacker')
  assert.equal(response.statusCode, 500)
  assert.equal(response.headers['set-cookie'], undefined)
  assert.equal(response.json().code, 'ERR_INVALID_CHAR')
})

test('a handshake ws refuses after the hijack gets a 400, and the upgrade rejects with FST_COLLAB_BAD_HANDSHAKE', async (t) => {
  const app = await buildApp(t)
  const outcome = deferred('the outcome of reply.upgrade()')
  app.get('/ws', async (request, reply) => {
    await reply.upgrade().then(() => outcome.resolve('resolved'), (err) => outcome.resolve(err.code))
  })
  const url = await listen(app)
  const response = await rawUpgrade(url, '/ws', { 'Sec-WebSocket-Protocol': 'a,,b' })
  assert.equal(response.statusCode, 400)
  assert.equal(response.headers.connection, 'close')
  assert.equal(response.json().code, 'FST_COLLAB_BAD_HANDSHAKE')
  assert.equal(await outcome.wait(), 'FST_COLLAB_BAD_HANDSHAKE')
})

test('a synchronous throw after the upgrade also closes with 1011', async (t) => {
  const app = await buildApp(t)
  app.get('/ws', (request, reply) => {
    reply.upgrade()
    throw new Error('sync failure')
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/ws`)
  const [code] = await once(ws, 'close')
  assert.equal(code, 1011)
})

test('calling reply.upgrade() twice throws FST_COLLAB_REPLY_ALREADY_SENT', async (t) => {
  const app = await buildApp(t)
  let second
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    try { reply.upgrade() } catch (err) { second = err.code }
    socket.close(1000)
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  await once(ws, 'close')
  assert.equal(second, 'FST_COLLAB_REPLY_ALREADY_SENT')
})

test('a non-WebSocket Upgrade (h2c) is routed as a plain request', async (t) => {
  const app = await buildApp(t)
  app.get('/h2c', async (request) => ({ isUpgrade: request.isUpgrade }))
  const url = await listen(app)
  const response = await rawUpgrade(url, '/h2c', {}, { upgrade: 'h2c' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { isUpgrade: false })
})
