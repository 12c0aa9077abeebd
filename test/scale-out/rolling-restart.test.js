// A planned restart hands documents over: fastify.close() stores each document and gives its lease back,
// then closes its sockets with 1012 (Service Restart), so that clients reconnect at once and another
// instance claims each document at its first connection, without waiting for a lease to lapse.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startFaultRun } from '../helpers/faults.js'
import { missing, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'

const skip = missing(redisServer)
// Leases and heartbeats of a minute: a document that changed owners within the test was handed over, not taken.
const env = { HEARTBEAT_INTERVAL: '500', HEARTBEAT_TIMEOUT: '60000', LEASE_MS: '60000' }
const DOCUMENTS = Number(process.env.DOCUMENTS ?? 30)

function percentile (values, p) {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

// Every client of the run as one shape: its provider, its node, its document, and what 'close' means for it.
function clientsOf (run) {
  return [
    ...run.typists.map((typist) => ({ get provider () { return typist.provider }, get node () { return typist.node }, documentName: typist.documentName, closeEvent: 'close', codeOf: ({ event }) => event?.code ?? 'destroyed', move: (target) => { typist.node = target; typist.moveTo((options) => target.clients.hocus(typist.documentName, options)) } })),
    ...run.watchers.map((watcher) => ({ get provider () { return watcher.provider }, get node () { return watcher.node }, documentName: watcher.documentName, closeEvent: 'connection-close', codeOf: (event) => event?.code ?? 'destroyed', move: (target) => { watcher.node.clients.drop(watcher.provider); watcher.node = target; watcher.provider = target.clients.yws(watcher.documentName, { doc: watcher.doc }) } }))
  ]
}

test(`a rolling restart of three instances under ${DOCUMENTS * 12} clients on ${DOCUMENTS} documents: only the leaving instance's sessions and those proxied to it reset (1012), nothing acknowledged is lost`, { skip, timeout: 120_000 }, async (t) => {
  const documents = Array.from({ length: DOCUMENTS }, (_, i) => `doc-${i}`)
  const run = await startFaultRun(t, { env, documents, typists: 1, watchers: 3 })
  const clients = clientsOf(run)
  run.startTyping(500)
  run.startAudits(500)
  await run.acknowledgedMore(2)
  const reconnects = []

  for (const leaving of [...run.nodes]) {
    const owners = new Map()
    for (const documentName of documents) owners.set(documentName, await run.nodes.find((node) => node !== leaving && node.alive).ownerOf(documentName))
    const moving = clients.filter((client) => client.node === leaving)
    const proxied = clients.filter((client) => client.node !== leaving && owners.get(client.documentName) === leaving.instanceId)
    const untouched = clients.filter((client) => !moving.includes(client) && !proxied.includes(client))
    const unexpected = []
    const offs = untouched.map((client) => {
      const onClose = (...args) => unexpected.push({ documentName: client.documentName, code: client.codeOf(...args) })
      client.provider.on(client.closeEvent, onClose)
      return () => client.provider.off(client.closeEvent, onClose)
    })
    const live = run.nodes.filter((node) => node !== leaving && node.alive)
    // Each moved or reset client: from its 1012 to its next sync, moved (the load balancer sends it to a live instance) or not.
    const handedOver = [...moving, ...proxied].map((client, i) => new Promise((resolve, reject) => {
      const onClose = (...args) => {
        client.provider.off(client.closeEvent, onClose)
        const code = client.codeOf(...args)
        if (code !== 1012) return reject(new Error(`a client of ${client.documentName} closed with ${code}, not 1012`))
        const closedAt = performance.now()
        if (moving.includes(client)) client.move(live[i % live.length])
        synced(client.provider, 30_000).then(() => resolve(performance.now() - closedAt), reject)
      }
      client.provider.on(client.closeEvent, onClose)
    }))
    await leaving.kill('SIGTERM')
    reconnects.push(...await Promise.all(handedOver))
    for (const off of offs) off()
    assert.deepEqual(unexpected, [], 'no session that was neither on the leaving instance nor proxied to it was reset')
    t.diagnostic(`instance ${run.nodes.indexOf(leaving)} left: ${moving.length} clients moved, ${proxied.length} reset by their edge`)
    // It comes back (a new process, a new instance id) before the next one goes.
    run.nodes.push(await run.cluster.start())
    await run.acknowledgedMore(2, { what: 'typing to go on after the restart' })
  }
  t.diagnostic(`reconnect to synced over ${reconnects.length} handed-over clients: p50 ${percentile(reconnects, 0.5).toFixed(0)} ms, p99 ${percentile(reconnects, 0.99).toFixed(0)} ms`)
  const result = await run.killAll()
  t.diagnostic(`acknowledged ${result.acked} of ${result.typed} typed; ${result.audits} audits`)
  assert.deepEqual(result.violations, [])
  assert.deepEqual(result.missing, [], 'every acknowledged edit is in the store')
  assert.deepEqual(result.pending, [])
})
