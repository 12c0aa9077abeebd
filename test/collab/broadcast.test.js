import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { startCollabServer } from '../helpers/server.js'
import { rawClient } from '../helpers/raw-client.js'

// y-websocket frames (y-protocols sync.js): 00 00 SyncStep1, 00 01 SyncStep2, 00 02 Update.
function syncStep1 (doc) {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint8Array(encoder, Y.encodeStateVector(doc))
  return encoding.toUint8Array(encoder)
}
const isSync = (sub) => (frame) => frame[0] === 0 && frame[1] === sub
function payload (frame) {
  const decoder = decoding.createDecoder(frame)
  decoding.readVarUint(decoder)
  decoding.readVarUint(decoder)
  return decoding.readVarUint8Array(decoder)
}

test('a busy turn on a document with a long history goes out as one small frame: only this turn\'s deletions', async (t) => {
  const { app, url } = await startCollabServer(t)
  const direct = await app.collab.openDirectConnection('history')
  t.after(() => direct.disconnect())
  await direct.transact((doc) => {
    const text = doc.getText('body')
    for (let i = 0; i < 5000; i++) {
      text.insert(0, 'abcdef')
      text.delete(2, 2)
    }
  })
  const document = app.collab.documents.get('history')
  // What the whole delete set weighs: the update of a state-vector-current diff.
  const allDeletes = Y.encodeStateAsUpdate(document, Y.encodeStateVector(document)).length
  assert.ok(allDeletes > 10_000, `history delete set is ${allDeletes} B`)

  const replica = new Y.Doc()
  const client = await rawClient(t, `${url}/history`)
  client.send(syncStep1(replica))
  Y.applyUpdate(replica, payload(await client.next(isSync(1), { what: 'SyncStep2' })))

  // 40 transactions in one event-loop turn, inserting and deleting: past the
  // threshold where the turn is re-encoded from the document.
  for (let i = 0; i < 40; i++) {
    direct.transact((doc) => {
      const text = doc.getText('body')
      text.insert(i, 'x')
      if (i % 3 === 0) text.delete(100 + i, 1)
    })
  }
  const update = payload(await client.next(isSync(2), { what: 'the turn\'s update' }))
  Y.applyUpdate(replica, update)
  assert.equal(replica.getText('body').toString(), document.getText('body').toString())
  assert.deepEqual(Y.encodeStateVector(replica), Y.encodeStateVector(document))
  assert.ok(update.length < 1000, `the turn's frame is ${update.length} B, not the document's ${allDeletes} B of deletions`)
})

test('a turn that cannot be broadcast is logged, and its clients are made to resync with 4205', async (t) => {
  const logs = []
  const { app, url } = await startCollabServer(t, {}, { fastify: { logger: { level: 'error', stream: { write: (line) => logs.push(JSON.parse(line)) } } } })
  const client = await rawClient(t, `${url}/unsendable`)
  client.send(syncStep1(new Y.Doc()))
  await client.next(isSync(1), { what: 'SyncStep2' })
  // Server code puts what JSON cannot encode into the awareness: the flush throws.
  app.collab.documents.get('unsendable').awareness.setLocalState({ big: 1n })
  assert.equal((await client.closed).code, 4205)
  assert.ok(logs.some((line) => line.msg === 'collab broadcast failed' && line.documentName === 'unsendable'))
})
