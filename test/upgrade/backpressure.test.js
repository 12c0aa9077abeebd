// maxBufferedAmount (issue 7 §1): every upgraded socket, plain or collab, is
// closed with 1013 once a send leaves more than the limit unsent, and
// terminated if the client never reads the close frame.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { frame } from '../helpers/raw-client.js'
import { captureLog } from '../helpers/log.js'
import { deferred, when, once } from '../helpers/wait.js'
import { buildApp, connect, listen } from '../helpers/upgrade.js'
import { NodeProcess } from '../helpers/child.js'

const MiB = 1024 * 1024

/**
 * test/fixtures/flood-server.js in its own process (killed with SIGKILL after the
 * test), so that the memory measured is the server's alone.
 */
async function floodServer (t, options) {
  const script = fileURLToPath(new URL('../fixtures/flood-server.js', import.meta.url))
  const { child } = new NodeProcess(t, ['--expose-gc', script, JSON.stringify(options)], { name: 'the flood server', ipc: true })
  const logs = []
  child.on('message', (message) => { if (message.log !== undefined) logs.push(message.log) })
  const [{ port }] = await when(child, 'message', { predicate: (message) => message.port !== undefined, timeout: 20000, what: 'the server' })
  return {
    url: `ws://127.0.0.1:${port}`,
    logs,
    /** The server's external memory (Buffers) after a full GC. */
    async external () {
      const answer = when(child, 'message', { predicate: (message) => message.memory !== undefined })
      child.send('memory')
      return (await answer)[0].memory.external
    },
    /** readyState and bufferedAmount of each server-side socket, by name. */
    async states () {
      const answer = when(child, 'message', { predicate: (message) => message.states !== undefined })
      child.send('state')
      return (await answer)[0].states
    },
    /** Resolves with the close code once the server-side socket `name` closed. */
    closed: (name) => when(child, 'message', { predicate: (message) => message.closed === name, timeout: 60000, what: `${name} closed` }).then(([message]) => message.code),
    /** Resolves with the first warn line of the send-buffer bound. */
    overflow: () => when(child, 'message', { predicate: (message) => message.log?.err?.code === 'FST_COLLAB_SEND_BUFFER_FULL', timeout: 60000, what: 'the 1013 close' }).then(([message]) => message.log)
  }
}

/** A client that reads nothing more from now on: the server's frames pile up in the kernel, then in the server. */
function stopReading (ws) {
  ws._socket.pause()
}

/** Warn lines of the send-buffer bound. */
const overflowLines = (lines) => lines.filter((line) => line.level === 40 && line.err?.code === 'FST_COLLAB_SEND_BUFFER_FULL')

/**
 * A route that sends one message of `:payload` bytes while the socket is corked,
 * so that nothing reaches the kernel and bufferedAmount is exactly the frame: a
 * 4-byte header (RFC 6455 §5.2, 126 <= length < 65536) and the payload.
 * `states` gets the socket's readyState right after the send.
 */
function fillRoute (app, states) {
  app.get('/fill/:payload', async (request, reply) => {
    const socket = await reply.upgrade()
    socket._socket.cork()
    socket.send(Buffer.alloc(Number(request.params.payload)))
    states.push(socket.readyState)
    socket._socket.uncork()
  })
}

test('maxBufferedAmount: a send that leaves exactly the limit unsent is allowed, one byte more closes with 1013', async (t) => {
  const limit = 1000
  const app = await buildApp(t, { plugin: { maxBufferedAmount: limit } })
  const states = []
  fillRoute(app, states)
  const url = await listen(app)
  const atLimit = new WebSocket(`${url}/fill/996`)
  const [message] = await once(atLimit, 'message')
  assert.equal(message.length, 996)
  const past = new WebSocket(`${url}/fill/997`)
  const [code, reason] = await once(past, 'close')
  assert.equal(code, 1013)
  assert.equal(reason.toString(), 'Try Again Later')
  assert.deepEqual(states, [WebSocket.OPEN, WebSocket.CLOSING])
  assert.equal(atLimit.readyState, WebSocket.OPEN)
  atLimit.close()
})

test('a client that stops reading is closed with 1013, logged once; memory stays bounded; a reading client is unaffected', async (t) => {
  const limit = 1 * MiB
  const CHUNK = 64 * 1024
  const server = await floodServer(t, { maxBufferedAmount: limit, closeTimeout: 60000 })
  const before = await server.external()

  const stalled = await connect(`${server.url}/room/stalled`)
  stalled.on('error', () => {})
  stopReading(stalled)
  // Set by the server's warn line, which comes over IPC while the loop below runs.
  const seen = { overflow: false }
  const overflow = server.overflow().then((line) => { seen.overflow = true; return line })
  // The reader asks for the next chunk once it has the previous one: every chunk
  // also goes to the stalled client, which reads none.
  const reader = await connect(`${server.url}/room/reader`)
  let chunks = 0
  while (!seen.overflow) {
    assert.ok(chunks < 2048, 'the stalled client was never closed')
    const next = once(reader, 'message')
    reader.send('next')
    const [data] = await next
    assert.equal(data.length, CHUNK)
    chunks++
  }
  const line = await overflow
  // Measured while the socket still holds its buffer: the close frame waits behind it.
  const grown = await server.external() - before
  assert.ok(grown < limit + 2 * MiB, `the server's external memory grew by ${(grown / MiB).toFixed(1)} MiB`)
  const { stalled: state } = await server.states()
  assert.equal(state.readyState, WebSocket.CLOSING)
  assert.ok(state.bufferedAmount > limit)
  assert.equal(line.msg, 'WebSocket closed with 1013: the client does not read what it is sent')
  assert.equal(typeof line.reqId, 'string')

  // The reader goes on as before.
  const next = once(reader, 'message')
  reader.send('next')
  assert.equal((await next)[0].length, CHUNK)
  assert.equal(reader.readyState, WebSocket.OPEN)
  assert.equal(overflowLines(server.logs).length, 1)
  reader.close()
})

/** A route that sends 64 KiB messages, one a turn, until the socket is no longer open; `closed` gets the server side's close code. */
function floodRoute (app, closed) {
  app.get('/flood', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('close', (code) => closed?.resolve(code))
    const pump = () => {
      if (socket.readyState !== WebSocket.OPEN) return
      socket.send(Buffer.alloc(64 * 1024))
      setImmediate(pump)
    }
    pump()
  })
}

test('a client that never reads the 1013 close frame is terminated after closeTimeout', async (t) => {
  const app = await buildApp(t, { plugin: { maxBufferedAmount: 256 * 1024, closeTimeout: 50 } })
  const closed = deferred('the server-side socket to close')
  floodRoute(app, closed)
  const ws = new WebSocket(`${await listen(app)}/flood`)
  ws.on('open', () => stopReading(ws))
  ws.on('error', () => {})
  // Terminated, not closed: the server never got the client's close frame.
  assert.equal(await closed.wait(), 1006)
  ws.terminate()
})

test('a client that resumes reading after the 1013 close gets the close frame with 1013', async (t) => {
  const { events, logger } = captureLog()
  const app = await buildApp(t, { fastify: { logger }, plugin: { maxBufferedAmount: 256 * 1024, closeTimeout: 60000 } })
  floodRoute(app)
  const url = await listen(app)
  const overflow = when(events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_SEND_BUFFER_FULL', timeout: 60000 })
  const ws = new WebSocket(`${url}/flood`)
  ws.on('open', () => stopReading(ws))
  await overflow
  ws._socket.resume()
  const [code] = await once(ws, 'close', { timeout: 30_000, what: 'the close frame behind the flood' })
  assert.equal(code, 1013)
})

test('a socket from the caller\'s own server (reply.upgrade({ server })) is bounded too', async (t) => {
  const app = await buildApp(t, { plugin: { maxBufferedAmount: 1000 } })
  const own = new WebSocketServer({ noServer: true })
  t.after(() => own.close())
  app.get('/own', async (request, reply) => {
    const socket = await reply.upgrade({ server: own })
    socket._socket.cork()
    socket.send(Buffer.alloc(997))
    socket._socket.uncork()
  })
  const url = await listen(app)
  const ws = new WebSocket(`${url}/own`)
  const [code] = await once(ws, 'close')
  assert.equal(code, 1013)
})

// y-websocket frames (y-protocols sync.js): SyncStep1 with an empty state vector, and Update.
const SYNC_STEP_1 = frame((e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc())) })
const updateFrame = (update) => frame((e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, update) })

test('a collab client that stops reading on a busy document is closed with 1013; the writer and a reader are unaffected; memory stays bounded', async (t) => {
  const limit = 1 * MiB
  const server = await floodServer(t, { maxBufferedAmount: limit, closeTimeout: 60000 })
  const before = await server.external()

  // Raw y-websocket clients that keep nothing they receive.
  async function client (name) {
    const ws = await connect(`${server.url}/collab/busy?name=${name}`)
    const greeted = once(ws, 'message')
    ws.send(SYNC_STEP_1)
    await greeted
    return ws
  }
  const isUpdate = (data) => data[0] === 0 && data[1] === 2
  const stalled = await client('stalled')
  stopReading(stalled)
  const stalledClosed = server.closed('stalled')
  // Set by the server's warn line, which comes over IPC while the loop below runs.
  const seen = { overflow: false }
  const overflow = server.overflow().then((line) => { seen.overflow = true; return line })
  const writer = await client('writer')
  const reader = await client('reader')
  let readerUpdates = 0
  reader.on('message', (data) => { if (isUpdate(data)) readerUpdates++ })

  // The writer sends 64 KiB updates, each once its previous one came back
  // (the server echoes updates to their sender), until the stalled client is closed.
  const doc = new Y.Doc()
  const text = doc.getText('text')
  let updates = 0
  while (!seen.overflow) {
    assert.ok(updates < 1024, 'the stalled client was never closed')
    let update
    doc.once('update', (u) => { update = u })
    text.insert(text.length, 'x'.repeat(64 * 1024))
    const echoed = when(writer, 'message', { predicate: isUpdate, timeout: 10000 })
    writer.send(updateFrame(update))
    await echoed
    updates++
  }
  const line = await overflow
  assert.equal(typeof line.reqId, 'string')
  const grown = await server.external() - before
  assert.ok(grown < limit + 2 * MiB, `the server's external memory grew by ${(grown / MiB).toFixed(1)} MiB`)

  // The stalled client reads again: everything it was sent, then the close frame.
  stalled._socket.resume()
  const [code] = await once(stalled, 'close', { timeout: 30_000, what: 'the close frame behind everything the stalled client was sent' })
  assert.equal(code, 1013)
  assert.equal(await stalledClosed, 1013)

  // The others never noticed: every update, sockets open.
  await when(reader, 'message', { check: () => readerUpdates >= updates, timeout: 10000, what: 'the reader\'s updates' })
  assert.equal(writer.readyState, WebSocket.OPEN)
  assert.equal(reader.readyState, WebSocket.OPEN)
  assert.equal(overflowLines(server.logs).length, 1)
  writer.close()
  reader.close()
})

test('the heartbeat terminates a client that keeps sending but never reads', async (t) => {
  const app = await buildApp(t, { plugin: { heartbeatInterval: 50 } })
  const closed = deferred('the server-side socket to close')
  app.get('/ws', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('close', (code) => closed.resolve(code))
  })
  const url = await listen(app)
  const ws = await connect(`${url}/ws`)
  stopReading(ws)
  // It sends all the time, so the server reads bytes from it; it never reads the pings, so it never pongs.
  const chatter = setInterval(() => ws.send('still here'), 5)
  t.after(() => clearInterval(chatter))
  assert.equal(await closed.wait(), 1006)
  ws.terminate()
})

test('maxBufferedAmount: the default is twice ws.maxPayload; 0 disables; a bad value is refused', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyCollab } = await import('fastify-collab')
  // Default 2 × 1000 bytes: a 4-byte header and 1996 bytes fill it exactly.
  const states = []
  const app = await buildApp(t, { plugin: { ws: { maxPayload: 1000 } } })
  fillRoute(app, states)
  const url = await listen(app)
  const atLimit = new WebSocket(`${url}/fill/1996`)
  await once(atLimit, 'message')
  const [code] = await once(new WebSocket(`${url}/fill/1997`), 'close')
  assert.equal(code, 1013)
  assert.deepEqual(states, [WebSocket.OPEN, WebSocket.CLOSING])
  atLimit.close()

  const unbounded = await buildApp(t, { plugin: { maxBufferedAmount: 0 } })
  fillRoute(unbounded, [])
  const ws = new WebSocket(`${await listen(unbounded)}/fill/${3 * MiB}`)
  const [message] = await once(ws, 'message', { timeout: 20_000, what: 'the 3 MiB message' })
  assert.equal(message.length, 3 * MiB)
  ws.close()
  for (const value of [-1, 1.5, '1']) {
    const bad = Fastify()
    await assert.rejects(bad.register(fastifyCollab, { maxBufferedAmount: value }).ready(), { code: 'FST_COLLAB_INVALID_OPTION' })
    await bad.close()
  }
})
