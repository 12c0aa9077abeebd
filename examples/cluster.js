// `npm run start:cluster`: three instances of the demo (examples/server.js) on consecutive ports,
// sharing one DATA_DIR and one Redis, each owning the documents it was first asked for and
// proxying the others (`fastify-collab/redis`). REDIS_URL points at a Redis of yours; without
// it, a `redis-server` (Debian's redis-server package) is started on a free port, with no
// persistence, and stopped with the cluster. PORT (default 1234) is the first port, INSTANCES
// (default 3) how many; HOST, DATA_DIR, DEMO_TOKEN and LOG_LEVEL are passed on. Ctrl-C stops
// every instance (each stores its documents) and then Redis.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const server = fileURLToPath(new URL('./server.js', import.meta.url))
const firstPort = Number(process.env.PORT ?? 1234)
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

/** Starts a redis-server on a free port; resolves once it accepts connections. */
async function startRedis () {
  const port = await freePort()
  // Its own process group: a Ctrl-C meant for the instances must not stop it before they have
  // closed (they release their leases there).
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  process.once('exit', () => child.kill('SIGKILL'))
  child.on('error', (error) => {
    log(`could not start redis-server (${error.message}): install it (apt-get install redis-server) or set REDIS_URL`)
    process.exit(1)
  })
  let output = ''
  child.stdout.setEncoding('utf8')
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
  })
  child.stdout.resume()
  log(`redis-server on port ${port} (no persistence)`)
  return { url: `redis://127.0.0.1:${port}`, child }
}

const redis = process.env.REDIS_URL ? { url: process.env.REDIS_URL, child: null } : await startRedis()

const children = []
for (let i = 0; i < count; i++) {
  const port = firstPort + i
  children.push(spawn(process.execPath, [server], {
    env: { ...process.env, PORT: String(port), HOST: host, DATA_DIR: dataDir, REDIS_URL: redis.url },
    stdio: 'inherit'
  }))
  log(`instance ${i + 1}: http://${host}:${port}/`)
}
log('open the same /?doc= on two of them: the page shows which instance it is on and which owns the document')

// A Ctrl-C in the terminal reaches every instance already (one process group): each stores its
// documents and exits. A SIGTERM sent to this process alone is passed on. Redis goes last.
process.on('SIGINT', () => log('stopping the instances'))
process.on('SIGTERM', () => {
  log('stopping the instances')
  for (const child of children) child.kill('SIGTERM')
})
await Promise.all(children.map((child) => once(child, 'exit')))
if (redis.child !== null) {
  redis.child.kill('SIGTERM')
  await once(redis.child, 'exit')
}
log('stopped')
