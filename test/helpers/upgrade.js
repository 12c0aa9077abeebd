// Helpers for the upgrade tests: an app with the plugin, and a raw HTTP/1.1
// upgrade client, so that tests see exactly the bytes the server writes on the socket.
import net from 'node:net'
import Fastify from 'fastify'
import { WebSocket } from 'ws'
import fastifyCollab from 'fastify-collab'
import { once, within } from './wait.js'

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/** A Fastify app with the plugin registered, closed after the test. */
export async function buildApp (t, { fastify = {}, plugin = {} } = {}) {
  const app = Fastify(fastify)
  // An after hook has no timeout of its own: a close() that hangs must still end the test.
  t.after(() => within(app.close(), { timeout: 10_000, what: 'fastify.close() after the test' }))
  await app.register(fastifyCollab, plugin)
  return app
}

/** Listens on a free port of 127.0.0.1 and returns the ws:// base URL. */
export async function listen (app) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${app.server.address().port}`
}

/** Opens a `ws` client and waits for 'open'. */
export async function connect (url, options) {
  const ws = new WebSocket(url, options)
  await once(ws, 'open')
  return ws
}

/**
 * Writes a WebSocket upgrade request for `path` (plus `extra` header lines, each ending in CRLF) on a
 * raw TCP socket, and resolves with the socket, without reading the answer.
 */
export async function rawHandshake (url, path, extra = '') {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n${extra}\r\n`)
  return socket
}

/**
 * Sends an upgrade request on a raw TCP socket and resolves once the server has
 * closed the socket, with the parsed HTTP response and when the close came.
 */
export async function rawUpgrade (url, path, headers = {}, { method = 'GET', upgrade = 'websocket' } = {}) {
  const { port } = new URL(url)
  const socket = net.connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Connection: Upgrade',
    `Upgrade: ${upgrade}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${KEY}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  socket.write(lines.join('\r\n') + '\r\n\r\n')
  const chunks = []
  socket.on('data', (chunk) => chunks.push(chunk))
  const responded = once(socket, 'data')
  await responded
  const respondedAt = Date.now()
  await once(socket, 'close')
  const closedAfter = Date.now() - respondedAt
  const text = Buffer.concat(chunks).toString()
  const [head, ...rest] = text.split('\r\n\r\n')
  const [statusLine, ...headerLines] = head.split('\r\n')
  const responseHeaders = {}
  for (const line of headerLines) {
    const i = line.indexOf(':')
    responseHeaders[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  const body = rest.join('\r\n\r\n')
  return {
    statusCode: Number(statusLine.split(' ')[1]),
    headers: responseHeaders,
    body,
    json: () => JSON.parse(body),
    closedAfter
  }
}

/** An echo route at `path` that upgrades and echoes every message. */
export function echoRoute (app, path = '/echo', routeOptions = {}) {
  app.get(path, routeOptions, async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
}
