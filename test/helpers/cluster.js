import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { postgresOrSkip } from './postgres.js'
import { startRedis } from './redis.js'
import { connectClients } from './server.js'
import { waitFor } from './wait.js'

const fixture = new URL('../fixtures/cluster-server.js', import.meta.url).pathname

/**
 * A scale-out cluster of real processes: a redis-server and `count` instances of
 * test/fixtures/cluster-server.js sharing one store, all killed after the test.
 *
 * @param {import('node:test').TestContext} t
 * @param {{ count?: number, env?: Record<string, string>, store?: 'sqlite' | 'postgres' }} [options]
 *   `env` for every instance (e.g. HEARTBEAT_TIMEOUT); `store`: one SQLite file (default), or a real
 *   PostgreSQL server the test starts.
 * @returns {Promise<Cluster | null>} null when the test was skipped: PostgreSQL is not installed (see postgresOrSkip).
 */
export async function startCluster (t, { count = 3, env = {}, store = 'sqlite' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'collab-cluster-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  let where = `sqlite:${join(dir, 'collab.sqlite')}`
  let postgres = null
  if (store === 'postgres') {
    postgres = await postgresOrSkip(t)
    if (postgres === null) return null
    where = `postgres:${postgres.connectionString}`
  }
  const redis = await startRedis(t)
  const shared = { REDIS_URL: redis.url, STORE: where, ...env }
  const start = async () => {
    const node = new ClusterNode(shared)
    t.after(() => node.kill('SIGKILL'))
    await node.started
    return node
  }
  const nodes = []
  for (let i = 0; i < count; i++) nodes.push(await start())
  return { redis, postgres, nodes, store: where, start }
}

/**
 * @typedef {object} Cluster
 * @property {import('./redis.js').RedisServer} redis
 * @property {import('./postgres.js').PostgresServer | null} postgres the PostgreSQL server of a `postgres` store
 * @property {ClusterNode[]} nodes
 * @property {string} store the STORE the instances share (read it back with faults.js storeReader)
 * @property {() => Promise<ClusterNode>} start starts one more instance
 */

/** One instance: its process, port, instance id, log lines, and real clients connected to it. */
export class ClusterNode {
  /** @type {object[]} every pino line the instance logged */
  logs = []

  constructor (env) {
    this.child = spawn(process.execPath, [fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line))
      } catch {
        this.logs.push({ msg: line })
      }
    })
    this.started = once(createInterface({ input: this.child.stdout }), 'line').then(([line]) => {
      const { port, instanceId } = JSON.parse(line)
      this.port = port
      this.instanceId = instanceId
      this.url = `ws://127.0.0.1:${port}/collab`
      this.clients = connectClients(this.url)
    })
    this.exited = once(this.child, 'exit')
  }

  /** Paused by pause() (SIGSTOP) and not resumed yet: it answers nothing meanwhile. */
  paused = false

  get alive () {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Alive and not paused: it can answer. */
  get responsive () {
    return this.alive && !this.paused
  }

  /** SIGSTOP: the process stops where it is, as in a long GC pause or a frozen VM. */
  pause () {
    this.paused = true
    this.child.kill('SIGSTOP')
  }

  /** SIGCONT after pause(). */
  resume () {
    this.child.kill('SIGCONT')
    this.paused = false
  }

  /**
   * Sends `signal`; for SIGKILL and SIGTERM, resolves once the process exited. SIGKILL also destroys the
   * clients made through `clients` (nothing more reaches them); after SIGTERM they get what the closing
   * server sends them, and the caller moves or destroys them.
   */
  async kill (signal = 'SIGKILL') {
    if (!this.alive) return
    if (signal === 'SIGKILL') this.clients?.destroyAll()
    this.child.kill(signal)
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await this.exited
  }

  /** GETs a JSON route of the instance; rejects after 5 s without an answer. */
  async get (path) {
    const response = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(5000) })
    return response.json()
  }

  /** The owner of `documentName` as this instance's Redis sees it, or null. */
  async ownerOf (documentName) {
    return (await this.get(`/owner/${encodeURIComponent(documentName)}`)).owner
  }

  /** Resolves with the first log line that passes `predicate`. */
  async logged (predicate, what = 'a log line', timeout = 10_000) {
    await waitFor(() => this.logs.some(predicate), { timeout, what })
    return this.logs.find(predicate)
  }
}
