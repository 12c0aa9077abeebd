// Issues 2 and 10: the upgrade benchmarks. The same route shape on every system
// (see servers/shape.js), alternating rounds, the server on core 0 and this load
// generator on core 1.
import { once } from 'node:events'
import autocannon from 'autocannon'
import { upgradeRequest, readBytes, clientFrame, serverFrameSize, PING_FRAME, CLOSE_FRAME } from './lib/ws-wire.js'
import { startServer } from './lib/server-process.js'
import { perConnection } from './lib/memory.js'
import { pool } from './lib/stats.js'
import { sampleMessage } from './servers/shape.js'

export const systems = [
  { id: 'raw', module: 'upgrade-raw', label: 'raw `ws` on `http.Server` (the limit)' },
  { id: 'fastify-websocket', module: 'upgrade-fastify-websocket', label: '@fastify/websocket 11.3.6' },
  { id: 'ours', module: 'upgrade-ours', label: 'fastify-collab `reply.upgrade()`' }
]

const KIB = Buffer.alloc(1024, 120)
const KIB_FRAME = clientFrame(0x2, KIB)
const KIB_ECHO = serverFrameSize(KIB.length)
const PING_ECHO = serverFrameSize(4)

/** An accepted upgrade that has echoed one message (`frame`, whose echo is `reply` bytes). */
async function open (port, path, frame = PING_FRAME, reply = PING_ECHO) {
  const { socket, status, rest } = await upgradeRequest(port, path)
  if (status !== 101) throw new Error(`expected 101, got ${status}`)
  socket.write(frame)
  await readBytes(socket, reply, rest.length)
  return socket
}

/** Connect, one echo, close: sends a close frame and waits until the server ends the TCP connection. */
async function handshake (port, path) {
  const socket = await open(port, path)
  const ended = once(socket, 'end')
  socket.write(CLOSE_FRAME)
  socket.resume()
  await ended
  socket.destroy()
}

/** An upgrade with a bad token; resolves once the whole 401 response was read. */
async function rejection (port, path) {
  const { socket, status, contentLength, rest } = await upgradeRequest(port, path)
  if (status !== 401) throw new Error(`expected 401, got ${status}`)
  await readBytes(socket, contentLength, rest.length)
  socket.destroy()
}

/** `total` operations from `concurrency` loops: ops/s and server CPU µs per op. */
async function rate (server, total, concurrency, op) {
  const before = await server.usage()
  const t0 = performance.now()
  await pool(new Array(total), concurrency, op)
  const seconds = (performance.now() - t0) / 1000
  const after = await server.usage()
  return { perSecond: total / seconds, cpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / total }
}

/**
 * `sockets` sockets, each keeping one message in flight, for `ms`: by default
 * a 1 KiB binary message; `frame` and `reply` (its echo's size) replace it.
 */
async function echo (port, path, server, sockets, ms, frame = KIB_FRAME, reply = KIB_ECHO) {
  const clients = await pool(new Array(sockets), 16, () => open(port, path, frame, reply))
  const before = await server.usage()
  let count = 0
  const t0 = performance.now()
  const deadline = t0 + ms
  await Promise.all(clients.map((socket) => new Promise((resolve) => {
    let pending = 0
    socket.on('data', (chunk) => {
      pending += chunk.length
      while (pending >= reply) {
        pending -= reply
        count++
        if (performance.now() >= deadline) return resolve()
        socket.write(frame)
      }
    })
    socket.resume()
    socket.write(frame)
  })))
  const seconds = (performance.now() - t0) / 1000
  const after = await server.usage()
  for (const socket of clients) socket.destroy()
  return { perSecond: count / seconds, cpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / count }
}

/** Opens `sockets` idle sockets (each echoed once) between two full-GC snapshots. */
async function idleMemory (port, path, server, sockets) {
  const before = await server.usage({ gc: true })
  const clients = await pool(new Array(sockets), 32, () => open(port, path))
  const after = await server.usage({ gc: true })
  for (const socket of clients) socket.destroy()
  return perConnection(before, after, sockets)
}

/**
 * One fresh server process: first the idle memory figure, then a warm-up,
 * then the handshake, rejection and echo rates.
 * @param {string} id one of `systems`
 * @param {object} plan
 * @param {number} plan.handshakes handshakes (and rejections) measured
 * @param {number} plan.echoMs echo duration
 * @param {number} plan.idleSockets sockets for the memory figure
 */
export async function measureUpgrade (id, plan) {
  const server = await startServer(systems.find((s) => s.id === id).module)
  try {
    const { port } = server
    const good = '/echo?token=ok'
    const bad = '/echo?token=bad'
    const memory = await idleMemory(port, good, server, plan.idleSockets)
    await rate(server, Math.min(1000, plan.handshakes), 32, () => handshake(port, good))
    await rate(server, Math.min(1000, plan.handshakes), 32, () => rejection(port, bad))
    await echo(port, good, server, 64, 300)
    const handshakes = await rate(server, plan.handshakes, 32, () => handshake(port, good))
    const rejections = await rate(server, plan.handshakes, 32, () => rejection(port, bad))
    const echoes = await echo(port, good, server, 64, plan.echoMs)
    return {
      handshakesPerSecond: handshakes.perSecond,
      handshakeCpuMicros: handshakes.cpuMicros,
      rejectionsPerSecond: rejections.perSecond,
      rejectionCpuMicros: rejections.cpuMicros,
      echoesPerSecond: echoes.perSecond,
      echoCpuMicros: echoes.cpuMicros,
      idleHeapBytes: memory.heap,
      idleRssBytes: memory.rss
    }
  } finally {
    await server.stop()
  }
}

// --- issue 10 §1: plain routes -----------------------------------------------

export const plainSystems = [
  { id: 'plain-none', plugin: 'none', label: 'Fastify alone' },
  { id: 'plain-noop', plugin: 'noop', label: 'Fastify + a no-op plugin (the control)' },
  { id: 'plain-ours', plugin: 'ours', label: 'Fastify + fastify-collab' },
  { id: 'plain-fastify-websocket', plugin: 'fastify-websocket', label: 'Fastify + @fastify/websocket 11.3.6' }
]

/** `seconds` of autocannon at `url` with 32 connections: requests/s and server CPU µs per request. */
async function cannon (server, url, seconds) {
  const before = await server.usage()
  const result = await autocannon({ url, connections: 32, duration: seconds })
  const after = await server.usage()
  const total = result.requests.total
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`)
  return { perSecond: total / seconds, cpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / total }
}

/**
 * One fresh server process with two plain JSON GET routes (servers/upgrade-plain.js),
 * the plugin registered or not, no upgrade ever asked for: one warm-up second
 * per route, then `plan.seconds` of load each.
 */
export async function measurePlain (id, plan) {
  const { plugin } = plainSystems.find((s) => s.id === id)
  const server = await startServer('upgrade-plain', { plugin })
  try {
    const base = `http://127.0.0.1:${server.port}`
    const result = {}
    for (const [name, path] of [['plain', '/plain'], ['hooked', '/hooked/42']]) {
      await cannon(server, base + path, 1)
      const { perSecond, cpuMicros } = await cannon(server, base + path, plan.seconds)
      result[`${name}PerSecond`] = perSecond
      result[`${name}CpuMicros`] = cpuMicros
    }
    return result
  } finally {
    await server.stop()
  }
}

// --- issue 10 §3: validated messages ------------------------------------------

export const messageSystems = [
  { id: 'messages-parse', validate: false, label: '`JSON.parse` in a `\'message\'` listener' },
  { id: 'messages-schema', validate: true, label: '`schema.message` (parsed and validated by the plugin)' }
]

const MESSAGE = Buffer.from(JSON.stringify(sampleMessage(1024)))
const MESSAGE_FRAME = clientFrame(0x1, MESSAGE)
const MESSAGE_ECHO = serverFrameSize(MESSAGE.length)

/** One fresh server process: 64 sockets each keep one 1 KiB JSON message in flight on the echo route. */
export async function measureMessages (id, plan) {
  const { validate } = messageSystems.find((s) => s.id === id)
  const server = await startServer('upgrade-messages', { validate })
  try {
    await echo(server.port, '/echo', server, 64, 300, MESSAGE_FRAME, MESSAGE_ECHO)
    const { perSecond, cpuMicros } = await echo(server.port, '/echo', server, 64, plan.echoMs, MESSAGE_FRAME, MESSAGE_ECHO)
    return { messagesPerSecond: perSecond, messageCpuMicros: cpuMicros }
  } finally {
    await server.stop()
  }
}
