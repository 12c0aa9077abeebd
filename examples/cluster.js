// `npm run start:cluster`: the demo as it would be deployed, on one machine. A reverse proxy on PORT
// (default 1234) is the one address to open; behind it, INSTANCES (default 3) instances of the demo
// (examples/server.js) on the next ports, sharing one DATA_DIR and one Redis: each owns the documents
// it was first asked for and serves the others through their owner (`fastify-collab/redis`).
//
// The proxy is @fastify/http-proxy: it sends each request and each WebSocket to the next live
// instance in turn, with the client's Host, Origin and address (X-Forwarded-For, which the instances
// trust from loopback). When an instance dies it is logged and left out, so the sockets it served
// close and their clients reconnect, through the proxy, to a live instance. REDIS_URL points at a
// Redis of yours; without it, a redis-server (Debian's redis-server package) is started on a free
// port, with no persistence. HOST is where the proxy listens (the instances listen on 127.0.0.1);
// DATA_DIR, DEMO_TOKEN and LOG_LEVEL are passed on.
//
// Ctrl-C or SIGTERM closes the proxy, stops every instance (each stores its documents), then Redis,
// and exits with 0 (1 if an instance did not stop cleanly). Nothing outlives this process, however it
// ends: Redis and the instances are in its process group, so a signal to the group reaches them too;
// Redis runs under `setpriv --pdeathsig SIGKILL` (util-linux) where that exists, so the kernel kills it
// when this process dies, even by SIGKILL; and an instance stops when its IPC channel to this process
// closes (examples/serve.js).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyHttpProxy from '@fastify/http-proxy'
import { buildPage, pageIsStale } from './build-page.js'

const server = fileURLToPath(new URL('./server.js', import.meta.url))
const port = Number(process.env.PORT ?? 1234)
const count = Number(process.env.INSTANCES ?? 3)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = resolve(process.env.DATA_DIR ?? 'data')
const log = (message) => process.stdout.write(`[cluster] ${message}\n`)

async function freePort () {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address()
  probe.close()
  return port
}

const onPath = (name) => (process.env.PATH ?? '').split(delimiter).map((folder) => join(folder, name)).find(existsSync)

/** Starts a redis-server on a free port; resolves once it accepts connections. */
async function startRedis () {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const setpriv = onPath('setpriv')
  const child = setpriv === undefined
    ? spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  // Every other way out of this process (an uncaught error included) runs 'exit' handlers.
  process.once('exit', () => child.kill('SIGKILL'))
  let output = ''
  child.stdout.setEncoding('utf8')
  try {
    await new Promise((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`it exited with ${code}: ${output.trim()}`)))
      child.stdout.on('data', (chunk) => {
        output += chunk
        if (output.includes('Ready to accept connections')) resolve()
      })
    })
  } catch (error) {
    log(`could not start redis-server (${error.message}): install it (apt-get install redis-server) or set REDIS_URL`)
    process.exit(1)
  }
  child.stdout.resume()
  child.once('exit', (code, signal) => { if (!stopping) log(`redis-server died (${signal ?? `exit code ${code}`})`) })
  log(`redis-server on port ${port} (pid ${child.pid}, no persistence)`)
  return { url: `redis://127.0.0.1:${port}`, child }
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit')

let stopping = false
const redis = process.env.REDIS_URL ? { url: process.env.REDIS_URL, child: null } : await startRedis()

// Bundled here, once, rather than by every instance at the same moment into the same file.
if (pageIsStale()) await buildPage()

const instances = []
for (let number = 1; number <= count; number++) {
  const url = `http://127.0.0.1:${port + number}`
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, PORT: String(port + number), HOST: '127.0.0.1', DATA_DIR: dataDir, REDIS_URL: redis.url, TRUST_PROXY: 'loopback' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const instance = { number, url, child, live: false }
  instances.push(instance)
  child.on('message', (message) => {
    if (message?.listening === undefined) return
    instance.live = true
    log(`instance ${number}: ${url}/ (pid ${child.pid})`)
  })
  child.once('exit', (code, signal) => {
    const how = signal ?? `exit code ${code}`
    if (!instance.live) return log(`instance ${number} ended before it listened (${how})`)
    instance.live = false
    if (stopping) return
    const live = instances.filter((each) => each.live).map((each) => each.number)
    log(`instance ${number} (pid ${child.pid}) died (${how}): ${live.length === 0 ? 'no instance is left' : `its clients reconnect to instance ${live.join(', ')}`}`)
  })
}

// Until every instance listens or has ended: the proxy opens only once they can be reached.
await Promise.all(instances.map(({ child }) => new Promise((resolve) => {
  child.on('message', resolve)
  child.once('exit', resolve)
})))
if (!instances.some((instance) => instance.live)) {
  log('no instance started')
  redis.child?.kill('SIGTERM')
  process.exit(1)
}

// Round robin over the live instances, WebSockets and plain requests each in their own turn, so
// that two tabs opened one after the other land on two instances.
const turns = { websocket: 0, http: 0 }
const proxy = Fastify({ logger: { level: 'warn' } })
proxy.decorateRequest('instance', null)
await proxy.register(fastifyHttpProxy, {
  upstream: '',
  websocket: true,
  // Picks the instance for each request and each WebSocket; with none live, a 503.
  preHandler: async (request, reply) => {
    const live = instances.filter((instance) => instance.live)
    if (live.length === 0) return reply.code(503).send({ error: 'Service Unavailable', message: 'no instance is running' })
    const kind = request.headers.upgrade === undefined ? 'http' : 'websocket'
    request.instance = live[turns[kind]++ % live.length]
  },
  replyOptions: { getUpstream: (request) => request.instance.url },
  // The instances check a browser's Origin against the Host it asked for, and rate-limit
  // handshakes by client address: the proxy's own WebSocket to the instance carries both.
  wsClientOptions: {
    rewriteRequestHeaders: (headers, request) => Object.fromEntries(Object.entries({
      ...headers,
      host: request.headers.host,
      origin: request.headers.origin,
      cookie: request.headers.cookie,
      'x-forwarded-for': request.ip
    }).filter(([, value]) => value !== undefined))
  }
})
await proxy.listen({ port, host })
log(`open http://${host}:${port}/ (the proxy, in front of ${instances.filter((instance) => instance.live).length} instances)`)

async function stop (signal) {
  if (stopping) return
  stopping = true
  log(`${signal}: stopping the proxy, the instances (each stores its documents), then Redis`)
  const running = instances.filter((instance) => instance.live)
  await proxy.close()
  // An instance stops when its IPC channel closes; one that got the signal too (a terminal's Ctrl-C
  // goes to the whole process group) is already stopping and is not told twice.
  for (const { child } of instances) if (child.connected) child.disconnect()
  await Promise.all(instances.map(({ child }) => exited(child)))
  if (redis.child !== null) {
    redis.child.kill('SIGTERM')
    await exited(redis.child)
  }
  const failed = running.filter(({ child }) => child.exitCode !== 0)
  if (failed.length > 0) log(`instance ${failed.map((instance) => instance.number).join(', ')} did not stop cleanly`)
  process.exitCode = failed.length === 0 ? 0 : 1
  log('stopped')
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
