import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createClient } from 'redis'
import { killAtExit, makeTempDir } from './cleanup.js'
import { redisServer } from './needs.js'
import { freePort, onFreePort } from './ports.js'
import { once, when } from './wait.js'

/**
 * Resolves once a redis-server child has written `text` to its stdout (what it logs when it is ready);
 * rejects with what it wrote if it ends first, or after 10 s. Its stdout keeps flowing afterwards.
 */
async function logged (child, text) {
  let output = ''
  child.stdout.setEncoding('utf8')
  const collect = (chunk) => { output += chunk }
  child.stdout.on('data', collect)
  try {
    await when(child.stdout, ['data', 'end'], {
      check: () => {
        if (output.includes(text)) return true
        if (child.stdout.readableEnded) throw new Error(`redis-server ended before "${text}": ${output}`)
        return false
      },
      timeout: 10_000,
      what: `redis-server to log "${text}"`
    })
  } finally {
    child.stdout.off('data', collect)
    child.stdout.resume()
  }
}

/**
 * A real redis-server on 127.0.0.1, on a free port, with no persistence: a
 * restart starts empty, as after a crash of a cache-only Redis. Stopped after
 * the test.
 *
 * @param {import('node:test').TestContext} t
 * @returns {Promise<RedisServer>}
 */
export async function startRedis (t) {
  const dir = makeTempDir('redis')
  let server = null
  t.after(async () => {
    await server?.kill()
    dir.remove()
  })
  return onFreePort(async (port) => {
    server = new RedisServer(port, dir.path)
    try {
      await server.start()
    } catch (error) {
      await server.kill()
      throw error
    }
    return server
  })
}

/**
 * A real Redis Sentinel (`redis-server --sentinel`) on a free port, monitoring
 * `master` under the name `collab`, with a node-redis Sentinel client for it.
 * Stopped after the test.
 *
 * @param {import('node:test').TestContext} t
 * @param {RedisServer} master
 * @returns {Promise<{ port: number, name: string }>}
 */
export async function startSentinel (t, master) {
  const port = await freePort()
  const dir = makeTempDir('sentinel')
  const config = join(dir.path, 'sentinel.conf')
  writeFileSync(config, `port ${port}\nbind 127.0.0.1\ndir ${dir.path}\nsentinel monitor collab 127.0.0.1 ${master.port} 1\n`)
  const child = killAtExit(spawn(redisServer().found, [config, '--sentinel'], { stdio: ['ignore', 'pipe', 'inherit'] }))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    dir.remove()
  })
  // The sentinel logs "+monitor master collab …" once it watches the master.
  await logged(child, '+monitor master collab')
  return { port, name: 'collab' }
}

/** One redis-server process that can be killed and started again on the same port. */
export class RedisServer {
  /** @type {import('node:child_process').ChildProcess | null} */
  child = null

  constructor (port, dir) {
    this.port = port
    this.dir = dir
    this.url = `redis://127.0.0.1:${port}`
  }

  /** Starts redis-server and resolves once it accepts connections. */
  async start () {
    const child = killAtExit(spawn(redisServer().found, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'
    ], { stdio: ['ignore', 'pipe', 'inherit'] }))
    this.child = child
    await logged(child, 'Ready to accept connections')
  }

  /** SIGKILLs the server and resolves once it has exited. Its data is gone. */
  async kill () {
    const child = this.child
    this.child = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await once(child, 'exit')
  }

  /**
   * A connected node-redis client for assertions and fault injection
   * (`CLIENT KILL TYPE pubsub`, `INFO commandstats`), closed after the test.
   *
   * @param {import('node:test').TestContext} t
   */
  async client (t) {
    const client = createClient({ url: this.url })
    client.on('error', () => {})
    await client.connect()
    t.after(() => client.destroy())
    return client
  }
}
