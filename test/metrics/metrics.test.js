// Issue 11 §1: the Prometheus metrics, read the way Prometheus reads them (a scrape), after real clients
// connect, edit, meet a bound and leave.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import { Counter, Registry, register } from 'prom-client'
import fastifyCollab, { channelNames } from 'fastify-collab'
import { sqlite } from 'fastify-collab/sqlite'
import { acknowledged, connectClients, listenCollab, startCollabServer, synced } from '../helpers/server.js'
import { assertBounded, scrape } from '../helpers/metrics.js'
import { deferred, untilDocs, when, once } from '../helpers/wait.js'
import { tempDir } from '../helpers/cleanup.js'
import { listen, rawHandshake, rawUpgrade } from '../helpers/upgrade.js'
import { deniedReason, hpAuth, isHp, rawClient, ywsStep1 } from '../helpers/raw-client.js'

const NAME = 'a-secret-document-name'

/** Resolves with the server side of the next `count` upgraded sockets' 'close'. */
function serverCloses (app, count) {
  const closes = []
  app.websocketServer.on('connection', (socket) => { if (closes.length < count) closes.push(once(socket, 'close')) })
  return () => Promise.all(closes)
}

test('clients connect, edit and leave: the gauges follow them; frames, updates, acknowledgements and loads are counted; every label is bounded', async (t) => {
  const registry = new Registry()
  const server = await startCollabServer(t, { metrics: { registry } })
  const closed = serverCloses(server.app, 2)
  const hocus = server.hocus(NAME)
  const yws = server.yws(NAME)
  await Promise.all([synced(hocus), synced(yws)])
  const document = server.app.collab.documents.get(NAME)
  hocus.setAwarenessField('user', { name: 'Ada' })
  yws.awareness.setLocalStateField('user', { name: 'Grace' })
  await when(document.awareness, 'update', { check: () => document.awareness.getStates().size === 2, what: 'both awareness states on the server' })

  let scraped = await scrape(registry)
  assert.equal(scraped.value('collab_sockets', { protocol: 'hocuspocus' }), 1)
  assert.equal(scraped.value('collab_sockets', { protocol: 'y-websocket' }), 1)
  assert.equal(scraped.value('collab_sockets', { protocol: 'none' }), 0)
  assert.equal(scraped.value('collab_documents'), 1)
  assert.equal(scraped.value('collab_sessions', { protocol: 'hocuspocus' }), 1)
  assert.equal(scraped.value('collab_sessions', { protocol: 'y-websocket' }), 1)
  assert.equal(scraped.value('collab_awareness_states'), 2)
  assert.equal(scraped.value('collab_upgrades_total', { status: 101 }), 2)
  assert.equal(scraped.value('collab_document_load_duration_seconds_count', { outcome: 'loaded' }), 1)
  assert.equal(scraped.value('collab_scaleout_owned_documents'), 0)
  const applied = scraped.value('collab_updates_applied_total')

  hocus.document.getText('t').insert(0, 'typed')
  await acknowledged(hocus)
  await untilDocs([yws.doc], () => yws.doc.getText('t').toString() === 'typed', { what: 'the edit on the y-websocket client' })
  scraped = await scrape(registry)
  assert.ok(scraped.value('collab_updates_applied_total') > applied)
  assert.ok(scraped.value('collab_update_ack_duration_seconds_count', { applied: 'true' }) >= 1)
  const inUpdates = { direction: 'in', protocol: 'hocuspocus', type: 'update' }
  assert.ok(scraped.value('collab_frames_total', inUpdates) >= 1)
  assert.ok(scraped.value('collab_frame_bytes_total', inUpdates) > scraped.value('collab_frames_total', inUpdates), 'an update frame is more than a byte')
  assert.ok(scraped.value('collab_frames_total', { direction: 'out', protocol: 'y-websocket', type: 'update' }) >= 1, 'the broadcast')
  assert.ok(scraped.value('collab_frames_total', { direction: 'out', protocol: 'hocuspocus', type: 'sync-status' }) >= 1, 'the acknowledgement')
  assert.ok(scraped.value('collab_frames_total', { direction: 'in', protocol: 'y-websocket', type: 'awareness' }) >= 1)
  assertBounded(scraped, [NAME, server.app.collab.instanceId, 'Ada', 'Grace'])

  server.drop(hocus)
  server.drop(yws)
  await Promise.all([closed(), when(document, 'destroy', { check: () => !server.app.collab.documents.has(NAME), what: 'the unload' })])
  scraped = await scrape(registry)
  for (const name of ['collab_sockets', 'collab_documents', 'collab_sessions', 'collab_awareness_states', 'collab_send_buffer_bytes']) {
    assert.equal(scraped.value(name), 0, name)
  }
  assert.equal(scraped.value('collab_socket_closes_total'), 2)
  assertBounded(scraped, [NAME, server.app.collab.instanceId])
})

test('refusals are counted: upgrades by status (401, 403, 404, 499), limit refusals by limit, socket closes by code, hook errors by hook', async (t) => {
  const registry = new Registry()
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyCollab, {
    metrics: { registry },
    allowedOrigins: ['http://good.example'],
    maxDocumentNameLength: 8,
    authQueueMaxFrames: 5,
    onAuthenticate ({ documentName }) { if (documentName.startsWith('no')) throw new Error('refused') }
  })
  const aborted = deferred('reply.upgrade() to reject')
  app.get('/collab', async (request, reply) => app.collab.handleConnection(await reply.upgrade(), request))
  app.get('/collab/:document', async (request, reply) => app.collab.handleConnection(await reply.upgrade(), request, request.params.document))
  app.get('/private', { onUpgrade: async (request, reply) => reply.code(401).send() }, async (request, reply) => reply.upgrade())
  // Holds the request until the server has seen the client's FIN.
  app.get('/slow', { onUpgrade: async (request) => { await once(request.raw.socket, 'end') } }, (request, reply) => {
    reply.upgrade().catch((error) => aborted.resolve(error.code))
  })
  const url = await listen(app)
  const closed = serverCloses(app, 2)

  assert.equal((await rawUpgrade(url, '/collab', { origin: 'http://evil.example' })).statusCode, 403)
  assert.equal((await rawUpgrade(url, '/private')).statusCode, 401)
  assert.equal((await rawUpgrade(url, '/nowhere')).statusCode, 404)
  // The client half-closes while the onUpgrade hook runs: the handshake cannot complete.
  const leaving = await rawHandshake(url, '/slow')
  leaving.end()
  assert.equal(await aborted.wait(), 'FST_COLLAB_UPGRADE_ABORTED')
  leaving.destroy()

  const client = await rawClient(t, `${url}/collab`)
  client.send(hpAuth('toolongname'))
  assert.match(deniedReason(await client.next(isHp('toolongname', 2, 1))), /longer than 8 bytes/)
  client.send(hpAuth('no-entry'))
  assert.equal(deniedReason(await client.next(isHp('no-entry', 2, 1))), 'permission-denied')
  // Two PermissionDenied answers count against authQueueMaxFrames (5): the fourth Pong passes it.
  for (let i = 0; i < 4; i++) client.send(Uint8Array.of(9))
  assert.equal((await client.closed).code, 4205)
  const yws = await rawClient(t, `${url}/collab/toolongname`)
  yws.send(ywsStep1())
  assert.equal((await yws.closed).code, 4403)
  await closed()

  const scraped = await scrape(registry)
  assert.deepEqual(Object.fromEntries([101, 401, 403, 404, 499].map((status) => [status, scraped.value('collab_upgrades_total', { status })])),
    { 101: 2, 401: 1, 403: 1, 404: 1, 499: 1 })
  assert.equal(scraped.value('collab_limit_refusals_total', { limit: 'allowedOrigins' }), 1)
  assert.equal(scraped.value('collab_limit_refusals_total', { limit: 'maxDocumentNameLength' }), 2)
  assert.equal(scraped.value('collab_limit_refusals_total', { limit: 'authQueueMaxFrames' }), 1)
  assert.equal(scraped.value('collab_socket_closes_total', { code: 4205 }), 1)
  assert.equal(scraped.value('collab_socket_closes_total', { code: 4403 }), 1)
  // Only 'no-entry' reached the hooks: a name too long is refused before any hook runs.
  assert.equal(scraped.value('collab_hook_errors_total', { hook: 'onAuthenticate' }), 1)
  assert.equal(scraped.value('collab_hook_duration_seconds_count', { hook: 'onAuthenticate' }), 1)
  assertBounded(scraped, ['toolongname', 'no-entry', 'evil.example'])
})

test('the SQLite store: loads, group commits and their sizes; a locked file counts failures and retries and shows the backlog until it gets through', { timeout: 30_000 }, async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const registry = new Registry()
  const server = await startCollabServer(t, { metrics: { registry }, extensions: [sqlite({ path, retry: { initialDelay: 5, maxDelay: 20 } })] })
  const hocus = server.hocus('stored')
  await synced(hocus)
  hocus.document.getText('t').insert(0, 'first')
  await acknowledged(hocus)
  let scraped = await scrape(registry)
  assert.equal(scraped.value('collab_store_duration_seconds_count', { operation: 'load' }), 1)
  const commits = scraped.value('collab_store_duration_seconds_count', { operation: 'append' })
  assert.ok(commits >= 1)
  assert.equal(scraped.value('collab_store_batch_updates_count'), commits)
  assert.ok(scraped.value('collab_store_batch_updates_sum') >= 1)
  assert.ok(scraped.value('collab_hook_duration_seconds_count', { hook: 'onChange' }) >= 1)
  assert.ok(scraped.value('collab_hook_duration_seconds_count', { hook: 'onLoadDocument' }) >= 1)
  assert.equal(scraped.value('collab_store_failures_total'), 0)

  const other = new Database(path)
  t.after(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const retried = deferred('a storeRetry diagnostics message')
  subscribe(channelNames.storeRetry, retried.resolve)
  t.after(() => unsubscribe(channelNames.storeRetry, retried.resolve))
  hocus.document.getText('t').insert(0, 'while locked ')
  const retry = await retried.wait()
  assert.equal(retry.instance, server.app.collab)
  assert.equal(retry.error.code, 'SQLITE_BUSY')
  assert.ok(retry.updates >= 1 && retry.delayMs > 0)
  scraped = await scrape(registry)
  assert.ok(scraped.value('collab_store_failures_total', { operation: 'append' }) >= 1)
  assert.ok(scraped.value('collab_store_retries_total') >= 1)
  assert.ok(scraped.value('collab_unstored_bytes') > 0, 'the update waits for the store')
  other.exec('COMMIT')
  await acknowledged(hocus, 10_000)
  scraped = await scrape(registry)
  assert.equal(scraped.value('collab_unstored_bytes'), 0)
  assert.ok(scraped.value('collab_store_batch_updates_count') > commits, 'the retried commit went through')
})

test('apps sharing a registry: counters count both, gauges sum them; one closing keeps the other\'s, the last takes the metrics out of the registry', async (t) => {
  const registry = new Registry()
  const apps = [await listenCollab({ metrics: { registry } }), await listenCollab({ metrics: { registry } })]
  const clients = apps.map(({ url }) => connectClients(url))
  t.after(async () => {
    for (const client of clients) client.destroyAll()
    for (const { app } of apps) await app.close()
  })
  await Promise.all([synced(clients[0].yws('one')), synced(clients[1].yws('two'))])
  let scraped = await scrape(registry)
  assert.equal(scraped.value('collab_documents'), 2)
  assert.equal(scraped.value('collab_upgrades_total', { status: 101 }), 2)
  clients[0].destroyAll()
  await apps[0].app.close()
  scraped = await scrape(registry)
  assert.equal(scraped.value('collab_documents'), 1)
  assert.equal(scraped.value('collab_upgrades_total', { status: 101 }), 2)
  clients[1].destroyAll()
  await apps[1].app.close()
  assert.equal(registry.getSingleMetric('collab_documents'), undefined)
  assert.deepEqual(registry.getMetricsAsArray(), [])
})

test('a registry that holds a collab_ metric of its own: registration rejects with FST_COLLAB_METRICS_CONFLICT and leaves nothing of ours', async () => {
  const registry = new Registry()
  // eslint-disable-next-line no-new
  new Counter({ name: 'collab_documents', help: 'the app\'s own', registers: [registry] })
  await assert.rejects(listenCollab({ metrics: { registry } }), { code: 'FST_COLLAB_METRICS_CONFLICT', message: /collab_documents/ })
  assert.deepEqual(registry.getMetricsAsArray().map((metric) => metric.name), ['collab_documents'])
})

test('metrics: true registers on prom-client\'s default registry until close; a value that is not a boolean or { registry } is refused', async () => {
  const { app } = await listenCollab({ metrics: true })
  assert.notEqual(register.getSingleMetric('collab_documents'), undefined)
  await app.close()
  assert.equal(register.getSingleMetric('collab_documents'), undefined)
  for (const metrics of ['yes', { registry: {} }, null]) {
    await assert.rejects(listenCollab({ metrics }), { code: 'FST_COLLAB_INVALID_OPTION' })
  }
})
