import { join } from 'node:path'
import { startPostgres } from './postgres.js'
import { startRedis } from './redis.js'
import { NodeProcess, logLine } from './child.js'
import { tempDir } from './cleanup.js'
import { get } from './http.js'
import { connectClients } from './server.js'
import { when } from './wait.js'

const fixture = new URL('../fixtures/cluster-server.js', import.meta.url).pathname

/**
 * A scale-out cluster of real processes: a redis-server and `count` instances of
 * test/fixtures/cluster-server.js sharing one store, all stopped after the test, the PostgreSQL
 * server too.
 *
 * @param {import('node:test').TestContext} t
 * @param {{ count?: number, env?: Record<string, string>, store?: 'sqlite' | 'postgres' }} [options]
 *   `env` for every instance (e.g. HEARTBEAT_TIMEOUT); `store`: one SQLite file (default), or a real
 *   PostgreSQL server the test starts (a test on it skips without one: postgresServer in needs.js).
 * @returns {Promise<Cluster>}
 */
export async function startCluster (t, { count = 3, env = {}, store = 'sqlite' } = {}) {
  const dir = tempDir(t, 'cluster')
  let where = `sqlite:${join(dir, 'collab.sqlite')}`
  let postgres = null
  if (store === 'postgres') {
    postgres = await startPostgres()
    t.after(() => postgres.destroy())
    where = `postgres:${postgres.connectionString}`
  }
  const redis = await startRedis(t)
  const shared = { REDIS_URL: redis.url, STORE: where, ...env }
  const start = async () => {
    const node = new ClusterNode(t, shared)
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
export class ClusterNode extends NodeProcess {
  /** @type {object[]} every pino line the instance logged */
  logs = []

  constructor (t, env) {
    super(t, [fixture], { name: 'a cluster instance', env })
    this.events.on('err', (line) => this.logs.push(logLine(line)))
    this.started = this.line(() => true, { what: 'its ready line' }).then((line) => {
      const { port, instanceId } = JSON.parse(line)
      this.port = port
      this.instanceId = instanceId
      this.url = `ws://127.0.0.1:${port}/collab`
      this.clients = connectClients(this.url)
    })
  }

  /** Paused by pause() (SIGSTOP) and not resumed yet: it answers nothing meanwhile. */
  paused = false

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
   * Sends `signal`; for SIGKILL and SIGTERM, resolves once the process ended. SIGKILL also destroys the
   * clients made through `clients` (nothing more reaches them); after SIGTERM they get what the closing
   * server sends them, and the caller moves or destroys them.
   */
  async kill (signal = 'SIGKILL') {
    if (!this.alive) return
    if (signal === 'SIGKILL') this.clients?.destroyAll()
    await super.kill(signal)
    if (signal === 'SIGTERM') await this.exit({ what: 'a cluster instance to stop after SIGTERM' })
  }

  /** GETs a JSON route of the instance (rejects after 10 s without an answer: see http.js). */
  async get (path) {
    return (await get(`http://127.0.0.1:${this.port}${path}`)).json()
  }

  /** The owner of `documentName` as this instance's Redis sees it, or null. */
  async ownerOf (documentName) {
    return (await this.get(`/owner/${encodeURIComponent(documentName)}`)).owner
  }

  /** Resolves with the first log line that passes `predicate`. */
  async logged (predicate, what = 'a log line', timeout = 10_000) {
    await when(this.events, 'err', { check: () => this.logs.some(predicate), timeout, what })
    return this.logs.find(predicate)
  }
}
