import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startCollabServer, synced, acknowledged } from '../helpers/server.js'
import { untilDocs } from '../helpers/wait.js'
import { rawClient, hpAuth, isHp, hpStep1, hpUpdate, ywsStep1, ywsUpdate, textUpdate, syncStatusOf } from '../helpers/raw-client.js'

// Issue 7 §4 (updates that cannot integrate) and §5 maxDocumentBytes.

const EMPTY_UPDATE = Uint8Array.of(0, 0)
const text = doc => doc.getText('text').toString()

/** A raw y-websocket client past the whole handshake: it answered the server's SyncStep1 with its SyncStep2. */
async function syncedRaw (t, url, name) {
  const client = await rawClient(t, `${url}/${name}`)
  client.send(ywsStep1())
  await client.next(f => f[0] === 0 && f[1] === 0, { what: 'the server\'s SyncStep1' })
  client.send(ywsUpdate(EMPTY_UPDATE, 1))
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  return client
}

/** Three updates that can only be applied in order: a typist's `abc`, `def`, and a deletion of `ab`. */
function chain () {
  const doc = new Y.Doc()
  const first = textUpdate('abc', doc)
  const second = textUpdate('def', doc)
  const before = Y.encodeStateVector(doc)
  doc.getText('text').delete(0, 2)
  return { doc, first, second, deletion: Y.encodeStateAsUpdate(doc, before) }
}

test('updates that cannot integrate (clock gap, unknown deletion, unknown origin) close their sender with 4205; nothing is pending, the witness is unaffected', async t => {
  const { url, app, yws } = await startCollabServer(t)
  const witness = yws('gaps')
  await synced(witness)
  witness.doc.getText('text').insert(0, 'W')
  const document = () => app.collab.documents.get('gaps')
  await untilDocs([document()], () => text(document()) === 'W')

  const { doc, second, deletion } = chain()
  // Another client's edit that builds on `doc`, which the server never saw.
  const other = new Y.Doc()
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  const otherBefore = Y.encodeStateVector(other)
  other.getText('text').insert(1, 'X')
  const unknownOrigin = Y.encodeStateAsUpdate(other, otherBefore)

  for (const [what, update] of [['clock gap', second], ['deletion of unknown structs', deletion], ['unknown origin', unknownOrigin]]) {
    const client = await syncedRaw(t, url, 'gaps')
    client.send(ywsUpdate(update))
    assert.equal((await client.closed).code, 4205, what)
    assert.equal(document().store.pendingStructs, null, what)
    assert.equal(document().store.pendingDs, null, what)
    assert.equal(text(document()), 'W', what)
  }
  witness.doc.getText('text').insert(1, '!')
  await untilDocs([document()], () => text(document()) === 'W!')
  assert.equal(witness.wsconnected, true)
})

test('during the handshake an update waits for the client\'s SyncStep2 (offline edits), then applies in order', async t => {
  const { url, app } = await startCollabServer(t)
  const doc = new Y.Doc()
  textUpdate('abc', doc)
  const second = textUpdate('def', doc)
  const client = await rawClient(t, url)
  client.send(hpAuth('offline'))
  client.send(hpStep1('offline', doc))
  await client.next(isHp('offline', 0), { what: 'SyncStep2' })
  // Typed while the handshake runs: it builds on `abc`, which only the SyncStep2 brings.
  client.send(hpUpdate('offline', second))
  client.send(hpUpdate('offline', Y.encodeStateAsUpdate(doc), 1))
  assert.equal(syncStatusOf(await client.next(isHp('offline', 8))), 1, 'the SyncStep2')
  assert.equal(syncStatusOf(await client.next(isHp('offline', 8))), 1, 'the update that waited')
  const document = app.collab.documents.get('offline')
  assert.equal(text(document), 'abcdef')
  assert.equal(document.store.pendingStructs, null)
})

test('the updates waiting for a SyncStep2 are bounded: past authQueueMaxFrames the client is reset (4205)', async t => {
  const { url } = await startCollabServer(t, { authQueueMaxFrames: 3 })
  const updates = []
  const doc = new Y.Doc()
  for (let i = 0; i < 5; i++) updates.push(textUpdate(`${i}`, doc))
  const atLimit = await rawClient(t, url)
  atLimit.send(hpAuth('waiting'))
  await atLimit.next(isHp('waiting', 2, 2))
  for (const update of updates.slice(2, 5)) atLimit.send(hpUpdate('waiting', update))
  atLimit.send(hpUpdate('waiting', Y.encodeStateAsUpdate(doc), 1))
  for (let i = 0; i < 4; i++) assert.equal(syncStatusOf(await atLimit.next(isHp('waiting', 8))), 1)
  const past = await rawClient(t, url)
  past.send(hpAuth('waiting'))
  await past.next(isHp('waiting', 2, 2))
  const ahead = new Y.Doc()
  Y.applyUpdate(ahead, Y.encodeStateAsUpdate(doc))
  for (let i = 0; i < 5; i++) textUpdate('x', ahead)
  const gapped = []
  ahead.on('update', update => gapped.push(update))
  for (let i = 0; i < 4; i++) ahead.getText('text').insert(0, 'y')
  for (const update of gapped) past.send(hpUpdate('waiting', update))
  assert.equal((await past.closed).code, 4205)
})

test('real providers editing concurrently (y-websocket and Hocuspocus) never meet a refusal', async t => {
  const { app, yws, hocus } = await startCollabServer(t)
  const providers = [yws('busy'), hocus('busy'), yws('busy'), hocus('busy')]
  await Promise.all(providers.map(provider => synced(provider)))
  const docs = providers.map(provider => provider.doc ?? provider.document)
  for (let round = 0; round < 20; round++) {
    docs.forEach((doc, i) => {
      const ytext = doc.getText('text')
      ytext.insert(round % 3 === 0 ? 0 : ytext.length, `${i}`)
      if (round % 5 === 4 && ytext.length > 2) ytext.delete(1, 1)
    })
  }
  await untilDocs(docs, () => docs.every(doc => text(doc) === text(docs[0])) && text(docs[0]).length > 0, { what: 'convergence' })
  await Promise.all([acknowledged(providers[1]), acknowledged(providers[3])])
  assert.ok(providers.every(provider => (provider.wsconnected ?? provider.isConnected) !== false))
  assert.equal(text(app.collab.documents.get('busy')), text(docs[0]))
})

test('maxDocumentBytes: growth up to the bound is applied; past it Hocuspocus gets SyncStatus 0 (and keeps it), y-websocket is closed with 4413; deletions still pass', async t => {
  const mirror = new Y.Doc()
  const first = textUpdate('a'.repeat(200), mirror)
  const second = textUpdate('b'.repeat(100), mirror)
  const max = Y.encodeStateAsUpdate(mirror).length - 2
  const { url, app, yws } = await startCollabServer(t, { maxDocumentBytes: max + second.length })
  const witness = yws('size')
  await synced(witness)
  const hp = await rawClient(t, url)
  hp.send(hpAuth('size'))
  await hp.next(isHp('size', 2, 2))
  hp.send(hpUpdate('size', first))
  assert.equal(syncStatusOf(await hp.next(isHp('size', 8))), 1)
  hp.send(hpUpdate('size', second))
  assert.equal(syncStatusOf(await hp.next(isHp('size', 8))), 1, 'at the bound')
  const third = textUpdate('c'.repeat(200), mirror)
  hp.send(hpUpdate('size', third))
  assert.equal(syncStatusOf(await hp.next(isHp('size', 8))), 0, 'past the bound')
  const document = app.collab.documents.get('size')
  assert.equal(text(document), 'a'.repeat(200) + 'b'.repeat(100))

  const ywsClient = await syncedRaw(t, url, 'size')
  ywsClient.send(ywsUpdate(textUpdate('d'.repeat(200))))
  assert.equal((await ywsClient.closed).code, 4413)

  // A deletion shrinks the document and is applied.
  witness.doc.getText('text').delete(0, 100)
  await untilDocs([document], () => text(document) === 'a'.repeat(100) + 'b'.repeat(100))
  assert.equal(witness.wsconnected, true)
})
