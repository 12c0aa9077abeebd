import { test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLog } from '../helpers/log.js'
import { startCollabServer, synced } from '../helpers/server.js'
import { when } from '../helpers/wait.js'
import { rawClient, ywsStep1, ywsAwareness, ywsUpdate, awarenessUpdate, textUpdate } from '../helpers/raw-client.js'

// Issue 7 §3: awareness bounds. Each refused frame closes only its sender, with
// a documented code; the witness (a real provider) stays connected throughout.

/** A raw y-websocket client on `name`, past its SyncStep2. */
async function joined (t, url, name) {
  const client = await rawClient(t, `${url}/${name}`)
  client.send(ywsStep1())
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  return client
}

const seen = (provider, client, predicate = state => state !== undefined) =>
  when(provider.awareness, 'change', { check: () => predicate(provider.awareness.getStates().get(client)), what: `awareness of ${client}` })

/** The witness is still served: its own edit comes back as the document's text. */
async function stillServed (app, witness, name) {
  witness.doc.getText('text').insert(0, 'w')
  await when(app.collab.documents.get(name), 'update', { check: () => app.collab.documents.get(name).getText('text').toString().includes('w') })
  assert.equal(witness.wsconnected, true)
}

test('maxAwarenessStateBytes: a state at the bound is applied, one byte more closes its sender with 4413', async t => {
  const { url, app, yws } = await startCollabServer(t, { maxAwarenessStateBytes: 100 })
  const witness = yws('big')
  await synced(witness)
  const json = JSON.stringify({ name: 'x'.repeat(100 - 11) })
  assert.equal(Buffer.byteLength(json), 100)
  const atLimit = await joined(t, url, 'big')
  atLimit.send(ywsAwareness(awarenessUpdate([[7001, 1, json]])))
  await seen(witness, 7001)
  const past = await joined(t, url, 'big')
  past.send(ywsAwareness(awarenessUpdate([[7002, 1, JSON.stringify({ name: 'x'.repeat(100 - 10) })]])))
  assert.equal((await past.closed).code, 4413)
  assert.equal(witness.awareness.getStates().has(7002), false)
  await stillServed(app, witness, 'big')
})

test('a state nested deeper than 64 levels is refused on arrival (4400) and never reaches the flush; 64 levels pass', async t => {
  const { url, app, yws } = await startCollabServer(t)
  const witness = yws('deep')
  await synced(witness)
  const ok = await joined(t, url, 'deep')
  ok.send(ywsAwareness(awarenessUpdate([[8001, 1, '['.repeat(64) + ']'.repeat(64)]])))
  await seen(witness, 8001)
  const deep = await joined(t, url, 'deep')
  // 8,000 levels stay under maxAwarenessStateBytes (16 KiB); the 100,000 would be refused as too large first.
  deep.send(ywsAwareness(awarenessUpdate([[8002, 1, '['.repeat(8000) + ']'.repeat(8000)]])))
  assert.equal((await deep.closed).code, 4400)
  // The next turn's awareness still goes out to everyone.
  ok.send(ywsAwareness(awarenessUpdate([[8001, 2, '{"after":true}']])))
  await seen(witness, 8001, state => state?.after === true)
  await stillServed(app, witness, 'deep')
})

test('maxAwarenessClientsPerConnection: a connection may own that many client IDs; a frame introducing more (or thousands) closes it with 4429', async t => {
  const { url, app, yws } = await startCollabServer(t, { maxAwarenessClientsPerConnection: 2 })
  const witness = yws('ids')
  await synced(witness)
  const two = await joined(t, url, 'ids')
  two.send(ywsAwareness(awarenessUpdate([[9001, 1, '{}'], [9002, 1, '{}']])))
  await seen(witness, 9002)
  // Renewing its own states is not introducing new ones.
  two.send(ywsAwareness(awarenessUpdate([[9001, 2, '{"n":2}'], [9002, 2, '{"n":2}']])))
  await seen(witness, 9002, state => state?.n === 2)
  two.send(ywsAwareness(awarenessUpdate([[9003, 1, '{}']])))
  assert.equal((await two.closed).code, 4429)
  const flood = await joined(t, url, 'ids')
  flood.send(ywsAwareness(awarenessUpdate(Array.from({ length: 5000 }, (_, i) => [100_000 + i, 1, '{}']))))
  assert.equal((await flood.closed).code, 4429)
  assert.deepEqual([...app.collab.documents.get('ids').awareness.getStates().keys()].filter(id => id >= 9001), [], 'the closed senders\' states are gone')
  await stillServed(app, witness, 'ids')
})

test('a connection cannot remove a state another connection owns (y-websocket echoes removals of timed-out peers)', async t => {
  const { url, yws } = await startCollabServer(t)
  const witness = yws('own')
  await synced(witness)
  const owner = await joined(t, url, 'own')
  owner.send(ywsAwareness(awarenessUpdate([[9101, 3, '{"mine":true}']])))
  await seen(witness, 9101)
  const other = await joined(t, url, 'own')
  other.send(ywsAwareness(awarenessUpdate([[9101, 3, 'null'], [9102, 1, '{"other":true}']])))
  await seen(witness, 9102)
  assert.equal(witness.awareness.getStates().get(9101)?.mine, true, 'the owner\'s state is still there')
  // Its owner may remove it.
  owner.send(ywsAwareness(awarenessUpdate([[9101, 4, 'null']])))
  await seen(witness, 9101, state => state === undefined)
})

test('maxAwarenessStates: past it a new state is left out, its sender stays connected and can edit, one warn line', async t => {
  const capture = captureLog()
  const { url, app, yws } = await startCollabServer(t, { maxAwarenessStates: 2 }, { fastify: { logger: capture.logger } })
  const witness = yws('full')
  witness.awareness.setLocalStateField('user', 'witness')
  await synced(witness)
  const second = await joined(t, url, 'full')
  second.send(ywsAwareness(awarenessUpdate([[9201, 1, '{}']])))
  await seen(witness, 9201)
  const third = await joined(t, url, 'full')
  third.send(ywsAwareness(awarenessUpdate([[9202, 1, '{}']])))
  third.send(ywsAwareness(awarenessUpdate([[9202, 2, '{}']])))
  third.send(ywsUpdate(textUpdate('third edits')))
  await third.next(f => f[0] === 0 && f[1] === 2, { what: 'the echo of the third client\'s edit' })
  assert.equal(app.collab.documents.get('full').awareness.getStates().has(9202), false)
  assert.equal(app.collab.documents.get('full').getText('text').toString(), 'third edits')
  assert.equal(capture.lines.filter(line => line.limit === 'maxAwarenessStates' && line.level === 40).length, 1)
  // Once a place is free, the next renewal gets in.
  second.socket.close()
  await seen(witness, 9201, state => state === undefined)
  third.send(ywsAwareness(awarenessUpdate([[9202, 3, '{"in":true}']])))
  await seen(witness, 9202, state => state?.in === true)
})

test('the clocks of removed clients do not pile up: past maxAwarenessStates the oldest half is dropped', async t => {
  const { url, app, yws } = await startCollabServer(t, { maxAwarenessStates: 4 })
  const witness = yws('meta')
  await synced(witness)
  for (let i = 0; i < 20; i++) {
    const client = await joined(t, url, 'meta')
    client.send(ywsAwareness(awarenessUpdate([[9300 + i, 1, '{}']])))
    await seen(witness, 9300 + i)
    client.socket.close()
    await seen(witness, 9300 + i, state => state === undefined)
  }
  const { awareness } = app.collab.documents.get('meta')
  assert.ok(awareness.meta.size - awareness.getStates().size <= 4, `removed clients kept: ${awareness.meta.size - awareness.getStates().size}`)
})
