// Issue 11 §1: tracing through node:diagnostics_channel. A subscriber gets the documented payloads, and
// a store bound to a TracingChannel (what an OpenTelemetry instrumentation does for its spans) is the
// active one inside the traced operation.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { channelNames } from 'fastify-collab'
import { sqlite } from 'fastify-collab/sqlite'
import { acknowledged, startCollabServer, synced } from '../helpers/server.js'
import { tempDir } from '../helpers/cleanup.js'
import { deniedReason, hpAuth, isHp, rawClient } from '../helpers/raw-client.js'
import { once } from '../helpers/wait.js'

const TRACED = new Set([channelNames.hook, channelNames.documentLoad, channelNames.store])
const PHASES = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']

/** Records every event of every fastify-collab channel until the test ends; a trace's context as it was at each phase. */
function record (t) {
  const events = []
  for (const [channel, name] of Object.entries(channelNames)) {
    if (TRACED.has(name)) {
      const handlers = Object.fromEntries(PHASES.map((phase) => [phase, (context) => events.push({ channel, phase, message: { ...context } })]))
      tracingChannel(name).subscribe(handlers)
      t.after(() => tracingChannel(name).unsubscribe(handlers))
    } else {
      const handler = (message) => events.push({ channel, message })
      subscribe(name, handler)
      t.after(() => unsubscribe(name, handler))
    }
  }
  return events
}

const find = (events, channel, match = () => true, phase) => events.filter((event) => event.channel === channel && (phase === undefined || event.phase === phase) && match(event.message))

test('a subscriber gets the documented payloads: upgrade, hook, document load, store, acknowledgement, limit, socket close', { timeout: 30_000 }, async (t) => {
  const events = record(t)
  const server = await startCollabServer(t, {
    extensions: [sqlite({ path: join(tempDir(t), 'collab.db') })],
    maxDocumentNameLength: 8,
    onAuthenticate ({ documentName }) { if (documentName.startsWith('no')) throw new Error('refused') }
  })
  const instance = server.app.collab
  const hocus = server.hocus('traced')
  await synced(hocus)
  hocus.document.getText('t').insert(0, 'hello')
  await acknowledged(hocus)
  const upgraded = once(server.app.websocketServer, 'connection')
  const client = await rawClient(t, server.url)
  const [serverSocket] = await upgraded
  client.send(hpAuth('no-entry'))
  assert.equal(deniedReason(await client.next(isHp('no-entry', 2, 1))), 'permission-denied')
  client.send(hpAuth('toolongname'))
  await client.next(isHp('toolongname', 2, 1))
  client.socket.close(4000)
  await once(serverSocket, 'close')

  const upgrades = find(events, 'upgrade')
  assert.equal(upgrades.length, 2)
  for (const { message } of upgrades) {
    assert.equal(message.instance, instance)
    assert.ok(message.request instanceof IncomingMessage)
    assert.equal(message.request.url, '/collab')
    assert.equal(message.statusCode, 101)
  }

  const loadHook = find(events, 'hook', (m) => m.hook === 'onLoadDocument')
  assert.deepEqual(loadHook.map((event) => event.phase), ['start', 'end', 'asyncStart', 'asyncEnd'])
  assert.deepEqual(loadHook[0].message, { instance, hook: 'onLoadDocument', documentName: 'traced' })
  const refused = find(events, 'hook', (m) => m.hook === 'onAuthenticate' && m.documentName === 'no-entry', 'error')
  assert.equal(refused.length, 1)
  assert.equal(refused[0].message.error.message, 'refused')
  assert.ok(find(events, 'hook', (m) => m.hook === 'onChange', 'asyncEnd').length >= 1)

  const load = find(events, 'documentLoad', (m) => m.documentName === 'traced')
  assert.deepEqual(load.map((event) => event.phase), ['start', 'end', 'asyncStart', 'asyncEnd'])
  assert.deepEqual(load[0].message, { instance, documentName: 'traced', epoch: undefined })

  const [storeLoad] = find(events, 'store', (m) => m.operation === 'load', 'start')
  assert.deepEqual(storeLoad.message, { instance, operation: 'load', documentName: 'traced', updates: undefined, bytes: undefined })
  const appends = find(events, 'store', (m) => m.operation === 'append', 'asyncEnd')
  assert.ok(appends.length >= 1)
  assert.equal(appends[0].message.instance, instance)
  assert.ok(appends[0].message.updates >= 1 && appends[0].message.bytes > 0)

  const acks = find(events, 'updateAck', (m) => m.documentName === 'traced')
  assert.ok(acks.length >= 1)
  for (const { message } of acks) {
    assert.equal(message.instance, instance)
    assert.equal(message.applied, true)
    assert.equal(typeof message.socketId, 'string')
    assert.ok(message.durationMs >= 0)
  }

  assert.deepEqual(find(events, 'limit').map(({ message }) => message), [{ instance, limit: 'maxDocumentNameLength' }])
  const closes = find(events, 'socketClose', (m) => m.code === 4000)
  assert.equal(closes.length, 1)
  assert.equal(closes[0].message.instance, instance)
  assert.equal(closes[0].message.socket, serverSocket)
})

test('a store bound to the hook TracingChannel is the active one inside the hook, as an OpenTelemetry span context would be', async (t) => {
  const als = new AsyncLocalStorage()
  const { start } = tracingChannel(channelNames.hook)
  start.bindStore(als, (context) => `${context.hook} ${context.documentName}`)
  t.after(() => start.unbindStore(als))
  const seen = []
  const server = await startCollabServer(t, {
    async onLoadDocument () {
      await new Promise(setImmediate)
      seen.push(als.getStore())
    },
    onChange () { seen.push(als.getStore()) }
  })
  const hocus = server.hocus('spans')
  await synced(hocus)
  hocus.document.getText('t').insert(0, 'x')
  await acknowledged(hocus)
  assert.deepEqual(seen, ['onLoadDocument spans', 'onChange spans'])
  assert.equal(als.getStore(), undefined)
})
