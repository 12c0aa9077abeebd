import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { startCollabServer, synced } from '../helpers/server.js'
import { when, once } from '../helpers/wait.js'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { rawClient, textUpdate, ywsStep1, ywsUpdate } from '../helpers/raw-client.js'

// Issue 7 §2: small frames must not buy large answers without bound. One
// SyncStep2 answer in flight per session, QueryAwareness once per turn.

/** Counts, per server-side socket, the frames ws emitted and the TCP reads they came in. */
function countServerFrames (app) {
  const events = new EventEmitter()
  const counts = []
  app.websocketServer.on('connection', socket => {
    const count = { frames: 0, reads: 0, socket }
    counts.push(count)
    socket._socket.on('data', () => { count.reads++ })
    socket.on('message', () => {
      count.frames++
      events.emit('frame', count)
    })
  })
  return { counts, events }
}

const framesSeen = ({ events, counts }, index, n) =>
  when(events, 'frame', { check: () => counts[index]?.frames >= n, what: `${n} frames at the server` })

test('a client that does not read and repeats SyncStep1 gets one SyncStep2 in flight, and one more for all the rest', async t => {
  const { app, url } = await startCollabServer(t, { maxDocumentBytes: 64 * 1024 * 1024 })
  const direct = await app.collab.openDirectConnection('large')
  t.after(() => direct.disconnect())
  // Larger than what the kernel buffers on both ends, so the first answer stays in the send queue.
  await direct.transact(doc => doc.getText('text').insert(0, 'x'.repeat(12 * 1024 * 1024)))
  const counter = countServerFrames(app)
  const client = await rawClient(t, `${url}/large`)
  client.socket.pause()
  for (let i = 0; i < 50; i++) client.send(ywsStep1())
  await framesSeen(counter, 0, 50)
  const server = counter.counts[0].socket
  assert.ok(server.bufferedAmount < 2 * 12 * 1024 * 1024, `${server.bufferedAmount} bytes queued for 50 SyncStep1`)
  client.socket.resume()
  const step2s = () => client.frames.filter(f => f[0] === 0 && f[1] === 1).length
  await client.next(() => step2s() === 2, { what: 'the coalesced second SyncStep2', timeout: 20000 })
  // A third answer would be queued when the second was written, so before this pong.
  client.socket.ping()
  await once(client.socket, 'pong', { timeout: 20_000, what: 'the pong behind the second 12 MiB SyncStep2' })
  assert.equal(step2s(), 2, 'one answer, then one for the 49 that came while it was in flight')
})

test('QueryAwareness is answered at most once per event-loop turn (and never twice in flight)', async t => {
  const { app, url, yws } = await startCollabServer(t)
  const peer = yws('query')
  peer.awareness.setLocalStateField('user', 'peer')
  await synced(peer)
  const counter = countServerFrames(app)
  const client = await rawClient(t, `${url}/query`)
  client.send(ywsStep1())
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  const before = client.frames.filter(f => f[0] === 1).length
  for (let i = 0; i < 1000; i++) client.send(Uint8Array.of(3))
  await framesSeen(counter, 0, 1001)
  // The answers go out at the end of the turns that read them; a ping's pong comes after.
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  client.socket.ping()
  await once(client.socket, 'pong')
  const answers = client.frames.filter(f => f[0] === 1).length - before
  const reads = counter.counts[0].reads
  assert.ok(answers >= 1, 'answered')
  assert.ok(answers <= reads, `${answers} answers for 1000 queries read in ${reads} reads`)
})

test('joiners with the same state vector share one encoded SyncStep2 until the document changes: a joiner after a change gets it', async t => {
  const { url } = await startCollabServer(t)
  const isStep2 = bytes => bytes[0] === 0 && bytes[1] === 1
  const isUpdate = bytes => bytes[0] === 0 && bytes[1] === 2
  const textOf = (bytes) => {
    const decoder = decoding.createDecoder(bytes)
    decoding.readVarUint(decoder)
    decoding.readVarUint(decoder)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, decoding.readVarUint8Array(decoder))
    return doc.getText('text').toString()
  }
  const join = async () => {
    const client = await rawClient(t, `${url}/shared-answers`)
    client.send(ywsStep1())
    return { client, step2: await client.next(isStep2, { what: 'the SyncStep2' }) }
  }
  const writer = await join()
  const typed = new Y.Doc()
  writer.client.send(ywsUpdate(textUpdate('one', typed)))
  await writer.client.next(isUpdate, { what: 'the echo of the first update' })
  const [first, second] = await Promise.all([join(), join()])
  assert.deepEqual([textOf(first.step2), textOf(second.step2)], ['one', 'one'])
  assert.deepEqual(first.step2, second.step2, 'the same answer')

  writer.client.send(ywsUpdate(textUpdate(' two', typed)))
  await writer.client.next(isUpdate, { what: 'the echo of the second update' })
  const third = await join()
  assert.equal(textOf(third.step2), 'one two', 'the change reached the joiner that came after it')
})
