// Issue 2: the upgrade benchmark. The same route shape on every system (see
// servers/shape.js), alternating rounds, the server on core 0 and this load
// generator on core 1.
import { once } from 'node:events'
import WebSocket from 'ws'
import { startServer } from './lib/server-process.js'
import { perConnection } from './lib/memory.js'
import { pool } from './lib/stats.js'

export const systems = [
  { id: 'raw', module: 'upgrade-raw', label: 'raw `ws` on `http.Server` (the limit)' },
  { id: 'fastify-websocket', module: 'upgrade-fastify-websocket', label: '@fastify/websocket 11.3.6' },
  { id: 'ours', module: 'upgrade-ours', label: 'fastify-collab `reply.upgrade()`' }
]

const clientOptions = { perMessageDeflate: false }
const KIB = Buffer.alloc(1024, 120)

async function open (url) {
  const ws = new WebSocket(url, clientOptions)
  await once(ws, 'open')
  return ws
}

/** Connect, one echo, close (waiting for the server's close frame). */
async function handshake (url) {
  const ws = await open(url)
  ws.send('ping')
  await once(ws, 'message')
  ws.close()
  await once(ws, 'close')
}

/** An upgrade with a bad token; resolves once the whole 401 response was read. */
function rejection (url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, clientOptions)
    ws.on('error', reject)
    ws.on('open', () => reject(new Error('a bad token was accepted')))
    ws.on('unexpected-response', (request, response) => {
      if (response.statusCode !== 401) return reject(new Error(`expected 401, got ${response.statusCode}`))
      response.resume()
      response.on('end', () => { request.destroy(); resolve() })
    })
  })
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

/** `sockets` sockets, each keeping one 1 KiB message in flight, for `ms`. */
async function echo (url, server, sockets, ms) {
  const clients = await pool(new Array(sockets), 16, () => open(url))
  const before = await server.usage()
  let count = 0
  const t0 = performance.now()
  const deadline = t0 + ms
  await Promise.all(clients.map((ws) => new Promise((resolve) => {
    ws.on('message', () => {
      count++
      if (performance.now() >= deadline) return resolve()
      ws.send(KIB)
    })
    ws.send(KIB)
  })))
  const seconds = (performance.now() - t0) / 1000
  const after = await server.usage()
  for (const ws of clients) ws.terminate()
  return { perSecond: count / seconds, cpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / count }
}

/** Opens `sockets` idle sockets (each echoed once) between two full-GC snapshots. */
async function idleMemory (url, server, sockets) {
  const before = await server.usage({ gc: true })
  const clients = await pool(new Array(sockets), 32, async () => {
    const ws = await open(url)
    ws.send('ping')
    await once(ws, 'message')
    return ws
  })
  const after = await server.usage({ gc: true })
  for (const ws of clients) ws.terminate()
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
    const good = `ws://127.0.0.1:${server.port}/echo?token=ok`
    const bad = `ws://127.0.0.1:${server.port}/echo?token=bad`
    const memory = await idleMemory(good, server, plan.idleSockets)
    await rate(server, Math.min(1000, plan.handshakes), 32, () => handshake(good))
    await rate(server, Math.min(1000, plan.handshakes), 32, () => rejection(bad))
    await echo(good, server, 64, 300)
    const handshakes = await rate(server, plan.handshakes, 32, () => handshake(good))
    const rejections = await rate(server, plan.handshakes, 32, () => rejection(bad))
    const echoes = await echo(good, server, 64, plan.echoMs)
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
