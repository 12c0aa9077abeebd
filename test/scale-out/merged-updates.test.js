// The edge merges the Update frames of one socket read into one frame for the owner (lib/scale-out/
// update-merge.ts), and gives the client one SyncStatus per frame it sent.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as Y from 'yjs'
import { startCluster } from '../helpers/cluster.js'
import { missing, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import * as decoding from 'lib0/decoding'
import { rawClient, hpAuth, hpUpdate, isHp, syncStatusOf, textUpdate, hp, hpStep1, readHp } from '../helpers/raw-client.js'
import { untilDocs } from '../helpers/wait.js'

const { UpdateMerge } = await import('../../dist/lib/scale-out/update-merge.js')
const { hocuspocusCodec, yWebsocketCodec } = await import('../../dist/lib/collab/protocol/codec.js')
const { encodeSyncStatus } = await import('../../dist/lib/collab/protocol/hocuspocus.js')

const skip = missing(redisServer)

test('an edge sends the Update frames of one socket read to the owner as one, and answers each of them', { skip, timeout: 60_000 }, async (t) => {
  const { nodes: [owner, edge] } = await startCluster(t, { count: 2, env: { LOG_FRAMES: '1' } })
  const watcher = owner.clients.hocus('merged')
  await synced(watcher)
  const client = await rawClient(t, edge.url)
  client.send(hpAuth('merged'))
  await client.next(isHp('merged', 2, 2), { what: 'Authenticated' })
  client.send(hpUpdate('merged', Y.encodeStateAsUpdate(new Y.Doc()), 1))
  await client.next(isHp('merged', 8), { what: 'the SyncStatus of the SyncStep2' })
  const framesBefore = owner.logs.filter(line => line.event === 'frame' && line.documentName === 'merged').length

  const doc = new Y.Doc()
  const words = Array.from({ length: 20 }, (_, i) => `w${i} `)
  const updates = words.map(word => textUpdate(word, doc))
  // One write, so one read at the edge.
  const tcp = client.socket._socket
  tcp.cork()
  for (const update of updates) client.send(hpUpdate('merged', update))
  tcp.uncork()

  await client.until(() => client.frames.filter(isHp('merged', 8)).length === 1 + updates.length, { what: 'a SyncStatus per frame' })
  assert.deepEqual(client.frames.filter(isHp('merged', 8)).map(syncStatusOf), Array(1 + updates.length).fill(1))
  await untilDocs([watcher.document], () => watcher.document.getText('text').toString() === words.join(''), { what: 'the text on the owner\'s client' })
  const frames = owner.logs.filter(line => line.event === 'frame' && line.documentName === 'merged').slice(framesBefore)
  assert.equal(frames.length, 1, 'the owner received the twenty frames as one')
  const sent = updates.reduce((sum, update) => sum + update.length, 0)
  assert.ok(frames[0].bytes < sent, `the merged frame (${frames[0].bytes} bytes) is smaller than the frames (${sent})`)
})

test('UpdateMerge: one frame per tick for the updates, SyncStatus copies in order, SyncSteps after the updates before them, awareness at once, undecodable updates sent as they came', async () => {
  const sent = []
  const merge = new UpdateMerge(hocuspocusCodec, 'doc', frame => sent.push(frame))
  const doc = new Y.Doc()
  const updates = ['a', 'b', 'c'].map(text => textUpdate(text, doc))
  const frames = updates.map(update => hpUpdate('doc', update))
  const awareness = hp('doc', 1, () => {})
  const step2 = hpUpdate('doc', Y.encodeStateAsUpdate(new Y.Doc()), 1)

  const step1 = hpStep1('doc')
  merge.update(updates[0], frames[0])
  merge.update(updates[1], frames[1])
  merge.aside(awareness)
  assert.deepEqual(sent, [awareness], 'awareness crosses at once, the updates stay held')
  merge.after(step1, false)
  merge.update(updates[2], frames[2])
  merge.after(step2, true)
  assert.equal(sent.length, 5, 'the awareness; a and b merged; the SyncStep1; c as it came; the SyncStep2')
  const merged = new Y.Doc()
  Y.applyUpdate(merged, updateOf(sent[1]))
  assert.equal(merged.getText('text').toString(), 'ab')
  assert.deepEqual([sent[2], sent[3], sent[4]], [step1, frames[2], step2])

  const status = encodeSyncStatus('doc', true)
  assert.deepEqual([merge.copiesOf(awareness), merge.copiesOf(status), merge.copiesOf(status), merge.copiesOf(status)], [1, 2, 1, 1], 'a, b share one answer; c and the SyncStep2 one each')

  // Held updates cross at the end of the tick; a bad one makes each cross as it came.
  const bad = Uint8Array.of(200, 1, 2)
  merge.update(updates[0], frames[0])
  merge.update(bad, hpUpdate('doc', bad))
  assert.equal(sent.length, 5, 'held until the end of the tick')
  await new Promise(resolve => process.nextTick(resolve))
  assert.equal(sent.length, 7)
  assert.equal(sent[5], frames[0])
  assert.deepEqual([merge.copiesOf(status), merge.copiesOf(status)], [1, 1])

  // y-websocket has no SyncStatus: nothing is counted.
  const yws = new UpdateMerge(yWebsocketCodec, '', frame => sent.push(frame))
  yws.update(updates[0], frames[0])
  yws.update(updates[1], frames[1])
  yws.flush()
  assert.equal(yws.copiesOf(status), 1)
})

/** The update of a Hocuspocus Update frame. */
function updateOf (frame) {
  const { type, d } = readHp(frame)
  assert.equal(type, 0)
  assert.equal(decoding.readVarUint(d), 2)
  return decoding.readVarUint8Array(d)
}

test('UpdateMerge: held updates cross at once when they reach 64 KiB, as one frame answered for all of them', () => {
  const sent = []
  const merge = new UpdateMerge(hocuspocusCodec, 'doc', frame => sent.push(frame))
  const doc = new Y.Doc()
  const updates = Array.from({ length: 5 }, () => textUpdate('x'.repeat(16 * 1024), doc))
  for (let i = 0; i < 3; i++) merge.update(updates[i], hpUpdate('doc', updates[i]))
  assert.equal(sent.length, 0, 'under 64 KiB: held for the end of the tick')
  merge.update(updates[3], hpUpdate('doc', updates[3]))
  assert.equal(sent.length, 1, 'the fourth reaches 64 KiB: the four cross at once, merged')
  merge.update(updates[4], hpUpdate('doc', updates[4]))
  merge.flush()
  assert.equal(sent.length, 2)
  const merged = new Y.Doc()
  for (const frame of sent) Y.applyUpdate(merged, updateOf(frame))
  assert.equal(merged.getText('text').toString(), doc.getText('text').toString())
  const status = encodeSyncStatus('doc', true)
  assert.deepEqual([merge.copiesOf(status), merge.copiesOf(status)], [4, 1])
})
