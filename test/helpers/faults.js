// The fault harness: writers on every instance of a real cluster, each edit
// counted as acknowledged only when a SyncStatus answered the frame that
// carried it (ledger.js), and a store checked as a fresh process without Redis
// would read it. Two checks, neither of which a client can pass by re-sending
// what a server acknowledged but did not store:
// - audits while the cluster runs: every edit acknowledged before a read of
//   the store began is in what that read returns (each audit is a crash that
//   did not happen: a restart at that moment would load exactly that);
// - at the end, every server and every client is killed at once, and the
//   store is read once more.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import * as Y from 'yjs'
import { startCluster } from './cluster.js'
import { LedgerTypist } from './ledger.js'
import { synced } from './server.js'
import { waitFor, when } from './wait.js'

/** Scale-out timings short enough that a paused owner loses its lease within a test, long enough for a loaded 2-core machine. */
export const faultEnv = { HEARTBEAT_INTERVAL: '100', HEARTBEAT_TIMEOUT: '1000', LEASE_MS: '2000' }

/**
 * Asserts that nothing acknowledged was lost, at any audit or at the end (see FaultRun.killAll), and that
 * the run was not vacuous.
 * @param {import('node:test').TestContext} t
 */
export function assertNothingLost (t, result, { minimumAcked = 60 } = {}) {
  t.diagnostic(`acknowledged ${result.acked} of ${result.typed} typed; ${result.audits} audits`)
  assert.deepEqual(result.violations, [], 'every audit found every edit acknowledged before it in the store')
  assert.deepEqual(result.missing, [], 'every acknowledged edit is in the store after every process was killed')
  assert.deepEqual(result.pending, [], 'the stored log leaves no pending structs')
  assert.ok(result.acked >= minimumAcked, `enough edits were acknowledged for the check to mean something (${result.acked})`)
  assert.ok(result.audits >= 3, `audits ran while the cluster did (${result.audits})`)
}

/**
 * Reads a store as a fresh process without Redis would: snapshot plus log, applied to a new Y.Doc.
 * @param {string} store a cluster's `store` (`sqlite:<path>` or `postgres:<connection string>`)
 */
export async function storeReader (store) {
  const [kind, ...rest] = store.split(':')
  const where = rest.join(':')
  const storage = kind === 'postgres'
    ? new (await import('fastify-collab/postgres')).PostgresStorage({ connectionString: where, migrate: false })
    : new (await import('fastify-collab/sqlite')).SqliteStorage({ path: where })
  return {
    /** @returns {Promise<{ items: Set<string>, pending: boolean }>} the items, and whether the log left pending structs */
    async read (documentName) {
      const stored = await storage.load(documentName)
      const doc = new Y.Doc()
      if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
      for (const update of stored.updates) Y.applyUpdate(doc, update)
      const pending = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
      return { items: new Set(doc.getArray('items').toArray()), pending }
    },
    close: () => storage.close()
  }
}

/**
 * A cluster under test, its writers and its watchers.
 *
 * @param {import('node:test').TestContext} t
 * @param {object} options
 * @param {'sqlite' | 'postgres'} [options.store]
 * @param {Record<string, string>} [options.env] for every instance (LEASE_MS, HEARTBEAT_INTERVAL, …), default faultEnv
 * @param {number} [options.count] instances, default 3
 * @param {string[]} [options.documents] default ['doc']
 * @param {number} [options.typists] Hocuspocus writers per instance and document, default 1
 * @param {number} [options.watchers] y-websocket clients per instance and document, default 1: they type
 *   too (their edits are never acknowledged, so never counted) and must converge with the others
 * @returns {Promise<FaultRun>}
 */
export async function startFaultRun (t, { store = 'sqlite', env = faultEnv, count = 3, documents = ['doc'], typists = 1, watchers = 1 } = {}) {
  const cluster = await startCluster(t, { count, env, store })
  const run = new FaultRun(cluster, await storeReader(cluster.store))
  t.after(() => run.close())
  // The first instance opens every document first, so that it owns them: the others proxy.
  for (const documentName of documents) {
    const [first, ...others] = cluster.nodes
    if (typists > 0) await synced(run.addTypist(first, documentName).provider, 20_000)
    for (const node of [first, ...others]) {
      for (let i = node === first ? 1 : 0; i < typists; i++) run.addTypist(node, documentName)
      for (let i = 0; i < watchers; i++) run.addWatcher(node, documentName)
    }
  }
  await run.allSynced()
  return run
}

/** Emits 'moved' with each client (typist or watcher) that moveClients gave a new provider, once it has it. */
export class FaultRun extends EventEmitter {
  /** @type {Array<LedgerTypist & { node: import('./cluster.js').ClusterNode, documentName: string }>} */
  typists = []
  /** @type {Array<{ provider: import('y-websocket').WebsocketProvider, node: import('./cluster.js').ClusterNode, documentName: string, doc: Y.Doc }>} */
  watchers = []
  /** Edits acknowledged before an audit's read began but missing from what it read, by audit. */
  violations = []
  audits = 0
  #audits = null
  #watcherTimer = null

  constructor (cluster, reader) {
    super()
    this.cluster = cluster
    this.reader = reader
  }

  get nodes () { return this.cluster.nodes }

  addTypist (node, documentName) {
    const name = `${documentName}/${this.nodes.indexOf(node)}.${this.typists.length}`
    const typist = Object.assign(new LedgerTypist(name, (options) => node.clients.hocus(documentName, options)), { node, documentName })
    this.typists.push(typist)
    return typist
  }

  addWatcher (node, documentName) {
    const doc = new Y.Doc()
    const watcher = { provider: node.clients.yws(documentName, { doc }), node, documentName, doc }
    this.watchers.push(watcher)
    return watcher
  }

  /** Resolves once every client has synced (after a move too). */
  async allSynced (timeout = 20_000) {
    await Promise.all([...this.typists.map((typist) => synced(typist.provider, timeout)), ...this.watchers.map((watcher) => synced(watcher.provider, timeout))])
  }

  /** Every writer types one item every `interval` ms (watchers every 5 × `interval`), at the front (see LedgerTypist.type). */
  startTyping (interval = 25) {
    for (const typist of this.typists) typist.start(interval)
    this.#watcherTimer ??= setInterval(() => {
      for (const watcher of this.watchers) watcher.doc.getArray('items').unshift([`${watcher.documentName}/y:${watcher.doc.clientID}:${Date.now()}`])
    }, interval * 5)
  }

  stopTyping () {
    for (const typist of this.typists) typist.stop()
    clearInterval(this.#watcherTimer)
    this.#watcherTimer = null
  }

  /**
   * Stops typing and resolves once nothing of any writer is in flight: each is synced and has every frame
   * it sent answered, so no instance is inside a write of theirs (SQLite's one write lock belongs to the
   * process that writes: see docs/storage.md, "Several processes on one file").
   */
  async quiesce (timeout = 30_000) {
    this.stopTyping()
    const settled = (typist) => typist.ledger.frames.waiting === 0 && typist.provider.isSynced && typist.provider.unsyncedChanges === 0
    await waitFor(() => this.typists.every(settled), { timeout, interval: 20, what: 'every writer to have nothing in flight' }).catch((error) => {
      error.message += `: ${this.#describe(this.typists.filter((typist) => !settled(typist)))}`
      throw error
    })
  }

  /** Names writers, each with its instance, its ledger's frames and statuses, and its provider's state. */
  #describe (typists) {
    return typists.map(({ name, node, ledger, provider }) => `${name} on instance ${this.nodes.indexOf(node)} (${JSON.stringify({ ...ledger.frames, ...ledger.statuses, acked: ledger.acked.size })}, ${provider.configuration.websocketProvider.status}, ${provider.isSynced ? 'synced' : 'not synced'}, ${provider.unsyncedChanges} unsynced changes)`).join(', ')
  }

  /** Resolves once every writer (of `typists`, default all) has `more` edits acknowledged past what it had when called. */
  async acknowledgedMore (more, { timeout = 30_000, what = `${more} more acknowledged edits per writer`, typists = this.typists } = {}) {
    const targets = typists.map((typist) => typist.ledger.acked.size + more)
    await when(typists.map((typist) => typist.ledger), 'acked', { check: () => typists.every((typist, i) => typist.ledger.acked.size >= targets[i]), timeout, what }).catch((error) => {
      error.message += `: ${this.#describe(typists.filter((typist, i) => typist.ledger.acked.size < targets[i]))}`
      throw error
    })
  }

  /**
   * One audit: the edits acknowledged so far (copied before the read begins) must all be in the store.
   * Violations are kept, not thrown, so that a run can go on and report them all.
   */
  async audit () {
    const acked = new Map(this.typists.map((typist) => [typist, [...typist.ledger.acked]]))
    const byDocument = new Map()
    for (const documentName of new Set(this.typists.map((typist) => typist.documentName))) {
      byDocument.set(documentName, await this.reader.read(documentName))
    }
    this.audits++
    for (const [typist, items] of acked) {
      const { items: stored } = byDocument.get(typist.documentName)
      const missing = items.filter((item) => !stored.has(item))
      if (missing.length > 0) this.violations.push({ audit: this.audits, typist: typist.name, missing })
    }
  }

  /**
   * Audits every `interval` ms until stopAudits(). A store that cannot be read now (PostgreSQL restarting)
   * is read at the next one; the caller checks that audits ran.
   */
  startAudits (interval = 300) {
    const stop = new AbortController()
    const loop = async () => {
      while (!stop.signal.aborted) {
        await this.audit().catch(() => {})
        await delay(interval, undefined, { signal: stop.signal }).catch(() => {})
      }
    }
    this.#audits = { stop, done: loop() }
  }

  async stopAudits () {
    const audits = this.#audits
    this.#audits = null
    audits?.stop.abort()
    await audits?.done
  }

  /**
   * Gives every client of `node` a new provider on another live instance (the same document), as a load
   * balancer does once a server is gone: `choose` picks the instance.
   */
  moveClients (node, choose = (live, i) => live[i % live.length]) {
    const live = this.nodes.filter((other) => other !== node && other.responsive)
    let i = 0
    for (const typist of this.typists.filter((typist) => typist.node === node)) {
      const target = choose(live, i++)
      typist.node = target
      typist.moveTo((options) => target.clients.hocus(typist.documentName, options))
      this.emit('moved', typist)
    }
    for (const watcher of this.watchers.filter((watcher) => watcher.node === node)) {
      const target = choose(live, i++)
      node.clients.drop(watcher.provider)
      watcher.node = target
      watcher.provider = target.clients.yws(watcher.documentName, { doc: watcher.doc })
      this.emit('moved', watcher)
    }
  }

  /** Every client's items, per document: converged when each document has one value. */
  converged () {
    const byDocument = new Map()
    for (const { documentName, doc } of [...this.typists, ...this.watchers]) {
      const items = JSON.stringify(doc.getArray('items').toArray().sort())
      if (!byDocument.has(documentName)) byDocument.set(documentName, new Set())
      byDocument.get(documentName).add(items)
    }
    return [...byDocument.values()].every((values) => values.size === 1)
  }

  /**
   * The end: typing stops, and every server and every client is killed at once (SIGKILL; each client's
   * socket is terminated, so nothing more is sent). Then the store is read as a fresh process would.
   * @returns {Promise<{ acked: number, typed: number, missing: Array<{ typist: string, missing: string[] }>, pending: string[], violations: object[], audits: number }>}
   */
  async killAll () {
    this.stopTyping()
    await this.stopAudits()
    for (const node of this.nodes) node.clients?.destroyAll()
    await Promise.all(this.nodes.map((node) => node.kill('SIGKILL')))
    const missing = []
    const pending = []
    let acked = 0
    let typed = 0
    for (const documentName of new Set(this.typists.map((typist) => typist.documentName))) {
      const stored = await this.reader.read(documentName)
      if (stored.pending) pending.push(documentName)
      for (const typist of this.typists.filter((typist) => typist.documentName === documentName)) {
        acked += typist.ledger.acked.size
        typed += typist.typed.length
        const lost = [...typist.ledger.acked].filter((item) => !stored.items.has(item))
        if (lost.length > 0) missing.push({ typist: typist.name, missing: lost })
      }
    }
    return { acked, typed, missing, pending, violations: this.violations, audits: this.audits }
  }

  async close () {
    this.stopTyping()
    await this.stopAudits()
    await this.reader.close()
  }

  /** The instance that owns `documentName` now, as a live instance's Redis sees it (undefined: nobody). */
  async ownerOf (documentName) {
    const id = await this.nodes.find((node) => node.responsive).ownerOf(documentName)
    return this.nodes.find((node) => node.instanceId === id)
  }

  /** A new instance, as an orchestrator starts one in place of a lost one. */
  async replace () {
    const node = await this.cluster.start()
    this.nodes.push(node)
    return node
  }
}

/**
 * The faults of the harness, by name, each with its recovery: once one resolves, the cluster has every
 * part back (a killed instance replaced, its clients moved, Redis or PostgreSQL up again), though clients
 * may still be resyncing. `admin` is a node-redis client of the cluster's Redis.
 *
 * @type {Record<string, (run: FaultRun, admin: import('redis').RedisClientType) => Promise<void>>}
 */
export const faults = {
  async 'redis-kill' (run) {
    await run.cluster.redis.kill()
    await run.cluster.redis.start()
  },
  async flushall (run, admin) {
    await admin.flushAll()
  },
  async 'client-kill' (run, admin) {
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
  },
  async 'owner-kill' (run) {
    const owner = await run.ownerOf(run.typists[0].documentName) ?? run.nodes.find((node) => node.responsive)
    await owner.kill('SIGKILL')
    run.moveClients(owner)
    await run.replace()
  },
  async 'edge-kill' (run) {
    const owner = await run.ownerOf(run.typists[0].documentName)
    const edge = run.nodes.find((node) => node.responsive && node !== owner)
    await edge.kill('SIGKILL')
    run.moveClients(edge)
    await run.replace()
  },
  // Paused past its lease: resumed once Redis has let the lease lapse. On SQLite, paused between writes: the
  // one write lock of the file belongs to the process that writes (see docs/storage.md, "Several processes on one file").
  async 'owner-pause' (run, admin) {
    const documentName = run.typists[0].documentName
    const owner = await run.ownerOf(documentName) ?? run.nodes.find((node) => node.responsive)
    if (run.cluster.store.startsWith('sqlite:')) await run.quiesce()
    owner.pause()
    try {
      await waitFor(async () => (await admin.get(`fastify-collab:lease:${documentName}`))?.startsWith(owner.instanceId) !== true,
        { timeout: 30_000, interval: 50, what: 'the paused owner\'s lease to lapse or move' })
    } finally {
      owner.resume()
    }
  },
  async 'postgres-restart' (run) {
    await run.cluster.postgres.restart({ mode: 'immediate' })
  }
}
