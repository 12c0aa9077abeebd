import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { sqlite } from 'fastify-collab/sqlite'
import { startCollabServer } from '../helpers/server.js'
import { tempDir } from '../helpers/cleanup.js'
import * as Y from 'yjs'
import { rawClient, hpAuth, isHp, hpUpdate, textUpdate, syncStatusOf } from '../helpers/raw-client.js'
import { deferred } from '../helpers/wait.js'

// Durable before acknowledged, also for an update that brings nothing new: a client that resends a change
// the server applied but has not stored yet (its socket dropped before the SyncStatus) must not get that
// change acknowledged before the store has it.

const PING = Uint8Array.of(9)
const isPong = bytes => bytes.length === 1 && bytes[0] === 10

test('an update the document already holds is acknowledged only once the change that brought it is stored', { timeout: 30_000 }, async t => {
  const path = join(tempDir(t), 'collab.db')
  const { url } = await startCollabServer(t, { extensions: [sqlite({ path, retry: { initialDelay: 5, maxDelay: 20 } })] })
  const [first, second] = [await rawClient(t, url), await rawClient(t, url)]
  for (const client of [first, second]) {
    client.send(hpAuth('resent'))
    await client.next(isHp('resent', 2, 2), { what: 'Authenticated' })
  }
  const other = new Database(path)
  t.after(() => other.close())
  other.exec('BEGIN EXCLUSIVE')

  const update = textUpdate('typed once')
  first.send(hpUpdate('resent', update))
  // The same change again, as a reconnecting provider's SyncStep2 would carry it; then a ping, answered in order.
  second.send(hpUpdate('resent', update, 1))
  second.send(PING)
  await second.next(isPong, { what: 'the Pong after the SyncStep2' })
  assert.equal(second.frames.filter(isHp('resent', 8)).length, 0, 'no acknowledgement while the change is not stored')

  other.exec('COMMIT')
  const [acknowledged, resent] = await Promise.all([
    first.next(isHp('resent', 8), { timeout: 10_000, what: 'the first SyncStatus' }),
    second.next(isHp('resent', 8), { timeout: 10_000, what: 'the second SyncStatus' })
  ])
  assert.deepEqual([syncStatusOf(acknowledged), syncStatusOf(resent)], [1, 1])
})

test('SyncStatus answers the frames in their order: a refusal known at once waits for the acknowledgement of an earlier update still being written', { timeout: 30_000 }, async t => {
  const gate = deferred('the test to let the first write end')
  const { url } = await startCollabServer(t, {
    maxDocumentBytes: 64,
    // A slow durable write: the first update's acknowledgement waits for it.
    async onChange () { await gate.promise }
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('ordered'))
  await client.next(isHp('ordered', 2, 2), { what: 'Authenticated' })
  const doc = new Y.Doc()
  client.send(hpUpdate('ordered', textUpdate('small', doc)))
  // Past maxDocumentBytes: refused before it is applied, so its answer (0) is known at once.
  client.send(hpUpdate('ordered', textUpdate('x'.repeat(200), doc)))
  client.send(PING)
  await client.next(isPong, { what: 'the Pong after both updates' })
  assert.equal(client.frames.filter(isHp('ordered', 8)).length, 0, 'the refusal did not overtake the pending acknowledgement')
  gate.resolve()
  await client.next(isHp('ordered', 8), { what: 'the first SyncStatus' })
  await client.until(() => client.frames.filter(isHp('ordered', 8)).length === 2, { what: 'the second SyncStatus' })
  assert.deepEqual(client.frames.filter(isHp('ordered', 8)).map(syncStatusOf), [1, 0], 'the first update acknowledged, then the second refused')
})

test('an update parked until the client\'s SyncStep2 keeps its place among the answers: a later update\'s SyncStatus never comes first', { timeout: 30_000 }, async t => {
  const gate = deferred('the test to let the parked update\'s write end')
  let changes = 0
  const { url } = await startCollabServer(t, {
    // The second change is the parked update, applied once the SyncStep2 came: its write is held.
    async onChange () { if (++changes === 2) await gate.promise }
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('parked'))
  await client.next(isHp('parked', 2, 2), { what: 'Authenticated' })
  const doc = new Y.Doc()
  const first = textUpdate('a', doc)
  const second = textUpdate('b', doc)
  // Sent in the wrong order during the handshake, as a provider flushing its queue may: the second
  // depends on the first, so it waits for the client's SyncStep2; the first is applied at once.
  client.send(hpUpdate('parked', second))
  client.send(hpUpdate('parked', first))
  client.send(PING)
  await client.next(isPong, { what: 'the Pong after both updates' })
  assert.equal(client.frames.filter(isHp('parked', 8)).length, 0, 'the first frame (parked) is answered first, so nothing is answered yet')

  client.send(hpUpdate('parked', Y.encodeStateAsUpdate(new Y.Doc()), 1))
  client.send(PING)
  await client.until(() => client.frames.filter(isPong).length === 2, { what: 'the Pong after the SyncStep2' })
  assert.equal(client.frames.filter(isHp('parked', 8)).length, 0, 'still nothing: the parked update is applied, its write held')

  gate.resolve()
  await client.until(() => client.frames.filter(isHp('parked', 8)).length === 3, { what: 'the three SyncStatus frames' })
  assert.deepEqual(client.frames.filter(isHp('parked', 8)).map(syncStatusOf), [1, 1, 1])
})

test('the updates one socket read brings are applied in one transaction: onChange sees their merge once, with the sender\'s context, and each frame gets its SyncStatus', { timeout: 30_000 }, async t => {
  const changes = []
  const { url, app } = await startCollabServer(t, {
    async onAuthenticate ({ token }) { return { user: token } },
    async onChange ({ update, context }) { changes.push({ user: context.user, update }) }
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('batched', 'ada'))
  await client.next(isHp('batched', 2, 2), { what: 'Authenticated' })
  // The handshake ends with the client's SyncStep2; only then are updates batched.
  client.send(hpUpdate('batched', Y.encodeStateAsUpdate(new Y.Doc()), 1))
  await client.next(isHp('batched', 8), { what: 'the SyncStatus of the SyncStep2' })

  const doc = new Y.Doc()
  const updates = ['one', ' two', ' three', ' four'].map(word => textUpdate(word, doc))
  // One write, so one read at the server.
  const tcp = client.socket._socket
  tcp.cork()
  for (const update of updates) client.send(hpUpdate('batched', update))
  tcp.uncork()
  await client.until(() => client.frames.filter(isHp('batched', 8)).length === 1 + updates.length, { what: 'a SyncStatus per update' })
  assert.deepEqual(client.frames.filter(isHp('batched', 8)).map(syncStatusOf), [1, 1, 1, 1, 1])
  assert.equal(changes.length, 1, 'one onChange for the read')
  assert.equal(changes[0].user, 'ada')
  const merged = new Y.Doc()
  Y.applyUpdate(merged, changes[0].update)
  assert.equal(merged.getText('text').toString(), 'one two three four', 'its update is their merge')
  assert.equal(app.collab.documents.get('batched').getText('text').toString(), 'one two three four')
})

test('updates parked for the handshake are answered 0 when the session is refused, in their places: they never hold back later answers', { timeout: 30_000 }, async t => {
  const { url } = await startCollabServer(t, { maxDocumentBytes: 64 })
  const client = await rawClient(t, url)
  client.send(hpAuth('refused'))
  await client.next(isHp('refused', 2, 2), { what: 'Authenticated' })
  const doc = new Y.Doc()
  textUpdate('a', doc)
  // Depends on 'a', which the server lacks: parked until the client's SyncStep2.
  client.send(hpUpdate('refused', textUpdate('b', doc)))
  // That SyncStep2 passes maxDocumentBytes: refused, and with it the session's later updates.
  client.send(hpUpdate('refused', textUpdate('x'.repeat(200), new Y.Doc()), 1))
  client.send(hpUpdate('refused', textUpdate('c', new Y.Doc())))
  await client.until(() => client.frames.filter(isHp('refused', 8)).length === 3, { what: 'an answer to each of the three frames' })
  assert.deepEqual(client.frames.filter(isHp('refused', 8)).map(syncStatusOf), [0, 0, 0])
})
