import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import { startCollabServer, synced, acknowledged } from '../helpers/server.js'
import { deferred, untilDocs, when } from '../helpers/wait.js'
import { rawClient, frame, hp, hpAuth, readHp, isHp, ywsStep1 as syncStep1, ywsUpdate, hpUpdate, hpStep1, textUpdate, syncStatusOf } from '../helpers/raw-client.js'

// One socket: protocol detection, the Hocuspocus handshake, sync answers,
// SyncStatus, Ping, CLOSE, read-only, bad frames and the auth-queue bounds.

function cutInDeleteSet () {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'hello world')
  doc.getText('text').delete(0, 3)
  const update = Y.encodeStateAsUpdate(doc)
  return update.slice(0, update.length - 1)
}

test('Hocuspocus handshake: Authenticated, SyncStep1 answered with SyncStep2 then SyncStep1, SyncStatus after each update, Ping answered with Pong', async t => {
  const { url, app } = await startCollabServer(t)
  const client = await rawClient(t, url)
  client.send(hpAuth('hs'))
  client.send(hpStep1('hs'))
  const authenticated = await client.next(isHp('hs', 2, 2), { what: 'Authenticated' })
  const { d } = readHp(authenticated)
  decoding.readVarUint(d)
  assert.equal(decoding.readVarString(d), 'read-write')
  const step2 = await client.next(isHp('hs', 0))
  assert.equal(readHp(step2).d.arr[readHp(step2).d.pos], 1, 'SyncStep2 comes first')
  const step1 = await client.next(isHp('hs', 0))
  assert.equal(readHp(step1).d.arr[readHp(step1).d.pos], 0, 'then the server\'s SyncStep1')

  client.send(hpUpdate('hs', textUpdate('hello')))
  assert.equal(syncStatusOf(await client.next(isHp('hs', 8), { what: 'SyncStatus' })), 1)
  assert.equal(app.collab.documents.get('hs').getText('text').toString(), 'hello')

  client.send(Uint8Array.of(9))
  assert.deepEqual(await client.next(f => f.length === 1, { what: 'Pong' }), Uint8Array.of(10))
  // Nothing the server sent is a server-internal type (SyncReply 4, BroadcastStateless 6).
  assert.ok(client.frames.every(f => f.length === 1 || ![4, 6].includes(readHp(f).type)))
})

test('both formats are told apart by the first frame on one route, and the protocol option forces one', async t => {
  const { yws, hocus } = await startCollabServer(t)
  const a = yws('detect')
  const b = hocus('detect')
  await Promise.all([synced(a), synced(b)])
  a.doc.getText('text').insert(0, 'y')
  await untilDocs([b.document], () => b.document.getText('text').toString() === 'y')

  const forced = await startCollabServer(t, { protocol: 'hocuspocus' })
  // Forced to Hocuspocus, a y-websocket SyncStep1 is read as a frame for the empty name: it is not served.
  const raw = await rawClient(t, forced.url + '/x')
  raw.send(syncStep1())
  const closed = await raw.closed
  assert.equal(closed.code, 4400)

  // Forced to y-websocket, a client that opens with QueryAwareness (not SyncStep1) is still served.
  const forcedY = await startCollabServer(t, { protocol: 'y-websocket' })
  const odd = await rawClient(t, forcedY.url + '/odd')
  odd.send(Uint8Array.of(3))
  const greeting = await odd.next()
  assert.deepEqual([...greeting.slice(0, 2)], [0, 0], 'greeted with the server\'s SyncStep1')
})

test('y-websocket: the server greets with SyncStep1 after auth, answers SyncStep1 with SyncStep2 and QueryAwareness with every state', async t => {
  const { url, hocus } = await startCollabServer(t)
  const h = hocus('yraw')
  await synced(h)
  h.setAwarenessField('user', 'h')
  const client = await rawClient(t, url + '/yraw')
  client.send(syncStep1())
  const first = await client.next()
  assert.deepEqual([...first.slice(0, 2)], [0, 0], 'the server\'s SyncStep1 comes first')
  await client.next(f => f[0] === 1, { what: 'the full awareness on connect' })
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  client.send(Uint8Array.of(3))
  const answer = await client.next(f => f[0] === 1, { what: 'the awareness answer' })
  const d = decoding.createDecoder(answer)
  decoding.readVarUint(d)
  const scratch = new awarenessProtocol.Awareness(new Y.Doc())
  awarenessProtocol.applyAwarenessUpdate(scratch, decoding.readVarUint8Array(d), null)
  assert.equal(scratch.getStates().get(h.document.clientID)?.user, 'h')
  scratch.destroy()
})

test('read-only: updates are not applied, a Hocuspocus client gets SyncStatus 0 and Authenticated readonly', async t => {
  const { url, app } = await startCollabServer(t, {
    onAuthenticate: ({ connectionConfig }) => { connectionConfig.readOnly = true }
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('ro'))
  const { d } = readHp(await client.next(isHp('ro', 2, 2)))
  decoding.readVarUint(d)
  assert.equal(decoding.readVarString(d), 'readonly')
  client.send(hpUpdate('ro', textUpdate('nope')))
  assert.equal(syncStatusOf(await client.next(isHp('ro', 8))), 0)
  // A SyncStep2 with nothing new is still acknowledged as applied.
  client.send(hp('ro', 0, e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(new Y.Doc())) }))
  assert.equal(syncStatusOf(await client.next(isHp('ro', 8))), 1)
  assert.equal(app.collab.documents.get('ro').getText('text').toString(), '')
})

test('Hocuspocus: many documents on one socket, CLOSE ends only that document, a bound route refuses other names and the empty name', async t => {
  const { url, app } = await startCollabServer(t)
  const client = await rawClient(t, url)
  client.send(hpAuth('one'))
  client.send(hpAuth('two'))
  await client.next(isHp('one', 2, 2))
  await client.next(isHp('two', 2, 2))
  assert.equal(app.collab.getConnectionsCount(), 2)
  client.send(hp('one', 7))
  client.send(hpUpdate('two', textUpdate('still here')))
  await client.next(isHp('two', 8))
  assert.equal(app.collab.documents.get('one'), undefined, '"one" unloaded after its CLOSE')
  assert.equal(app.collab.getConnectionsCount(), 1)

  const bound = await rawClient(t, url + '/mine')
  bound.send(hpAuth('other'))
  const denied = readHp(await bound.next(isHp('other', 2, 1), { what: 'PermissionDenied' }))
  decoding.readVarUint(denied.d)
  assert.match(decoding.readVarString(denied.d), /another document/)
  bound.send(hpAuth('mine'))
  await bound.next(isHp('mine', 2, 2))
  const open = await rawClient(t, url)
  open.send(hpAuth(''))
  await open.next(isHp('', 2, 1), { what: 'PermissionDenied for the empty name' })
  assert.equal(app.collab.documents.has(''), false)
})

test('bad frames close only their own connection, with 4400 (malformed/unknown) or 1003 (text), and leave the document unchanged', async t => {
  const logs = []
  const { url, app, hocus } = await startCollabServer(t, {}, { fastify: { logger: { level: 'warn', stream: { write: line => logs.push(JSON.parse(line)) } } } })
  const witness = hocus('bad')
  await synced(witness)
  witness.document.getText('text').insert(0, 'keep')
  await acknowledged(witness)
  const before = Y.encodeStateVector(app.collab.documents.get('bad'))

  const cases = [
    ['text frame', c => c.send('hello'), 1003],
    ['unknown y-websocket type', c => { c.send(syncStep1()); c.send(Uint8Array.of(42, 0)) }, 4400, '/bad'],
    ['truncated y-websocket update', c => { c.send(syncStep1()); c.send(Uint8Array.of(0, 2, 50, 1, 2)) }, 4400, '/bad'],
    ['unknown sync sub-type', c => { c.send(syncStep1()); c.send(Uint8Array.of(0, 9, 0)) }, 4400, '/bad'],
    ['garbage Yjs update', c => { c.send(syncStep1()); c.send(ywsUpdate(Uint8Array.of(200, 1, 2, 3))) }, 4400, '/bad'],
    // Yjs alone would integrate this one's structs, then throw on its cut delete set.
    ['Yjs update cut in its delete set', c => { c.send(syncStep1()); c.send(ywsUpdate(cutInDeleteSet())) }, 4400, '/bad'],
    ['awareness that is not JSON', c => {
      c.send(hpAuth('bad'))
      c.send(hp('bad', 1, e => encoding.writeVarUint8Array(e, frame(a => { encoding.writeVarUint(a, 1); encoding.writeVarUint(a, 7); encoding.writeVarUint(a, 1); encoding.writeVarString(a, '{nope') }))))
    }, 4400],
    ['BroadcastStateless from a client', c => { c.send(hpAuth('bad')); c.send(hp('bad', 6, e => encoding.writeVarString(e, 'x'))) }, 4400],
    ['SyncReply from a client', c => { c.send(hpAuth('bad')); c.send(hp('bad', 4, e => { encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, new Uint8Array()) })) }, 4400],
    ['unknown Hocuspocus type', c => c.send(hp('bad', 77)), 4400],
    ['truncated Hocuspocus frame', c => c.send(Uint8Array.of(20, 0x61, 0x62)), 4400]
  ]
  for (const [what, send, code, path = ''] of cases) {
    const client = await rawClient(t, url + path)
    send(client)
    const closed = await client.closed
    assert.equal(closed.code, code, what)
  }
  assert.deepEqual(Y.encodeStateVector(app.collab.documents.get('bad')), before)
  assert.equal(app.collab.documents.get('bad').getText('text').toString(), 'keep')
  // The witness is untouched and still served.
  witness.document.getText('text').insert(4, '!')
  await untilDocs([app.collab.documents.get('bad')], () => app.collab.documents.get('bad').getText('text').toString() === 'keep!')
  assert.equal(app.collab.getConnectionsCount(), 1)
  assert.ok(logs.some(l => /collab connection closed/.test(l.msg) && l.code === 4400), 'bad frames are logged')
})

test('auth queue bounds: frames, bytes and pending documents past the bound close the socket with 4205', async t => {
  const gate = deferred('the test to let onAuthenticate answer')
  const { url, app } = await startCollabServer(t, {
    authQueueMaxFrames: 10,
    authQueueMaxBytes: 4096,
    authQueueMaxDocuments: 3,
    onAuthenticate: () => gate.promise
  })
  t.after(() => gate.resolve())

  // The frames come before the Auth: once an authentication runs, the socket is
  // not read (see the pause test), so the queue only ever holds what came first.
  const byFrames = await rawClient(t, url)
  for (let i = 0; i < 11; i++) byFrames.send(hpStep1('q'))
  assert.equal((await byFrames.closed).code, 4205)

  const byBytes = await rawClient(t, url)
  byBytes.send(hpUpdate('q', new Uint8Array(5000)))
  assert.equal((await byBytes.closed).code, 4205)

  const byDocuments = await rawClient(t, url)
  for (const name of ['a', 'b', 'c', 'd']) byDocuments.send(hpStep1(name))
  assert.equal((await byDocuments.closed).code, 4205)

  // Within the bounds, queued frames are replayed in order once auth ends.
  const within = await rawClient(t, url)
  within.send(hpAuth('q'))
  within.send(hpUpdate('q', textUpdate('queued')))
  within.send(hpStep1('q'))
  gate.resolve()
  await within.next(isHp('q', 2, 2))
  assert.equal(syncStatusOf(await within.next(isHp('q', 8))), 1)
  assert.equal(app.collab.documents.get('q').getText('text').toString(), 'queued')
})

test('a document whose Auth never comes closes the socket with 4408 after authTimeout; a bound route denies other documents at once', async t => {
  const { url } = await startCollabServer(t, { authTimeout: 100 })
  const silent = await rawClient(t, url)
  silent.send(hpStep1('never-authenticated'))
  assert.equal((await silent.closed).code, 4408)

  // Bound to `mine`: a frame for another document is answered, not queued.
  const bound = await rawClient(t, `${url}/mine`)
  bound.send(hpStep1('theirs'))
  await bound.next(isHp('theirs', 2, 1), { what: 'PermissionDenied for theirs' })
  bound.send(hpAuth('mine'))
  await bound.next(isHp('mine', 2, 2), { what: 'Authenticated for mine' })
})

test('y-websocket refusal: the y-protocols PermissionDenied message, then close 4403; the document is never loaded', async t => {
  let loads = 0
  const { url, app } = await startCollabServer(t, {
    onAuthenticate ({ token }) {
      assert.equal(token, undefined)
      throw Object.assign(new Error('go away'), { statusCode: 403 })
    },
    onLoadDocument () { loads++ }
  })
  const client = await rawClient(t, url + '/refused')
  client.send(syncStep1())
  const denied = await client.next()
  const d = decoding.createDecoder(denied)
  assert.equal(decoding.readVarUint(d), 2)
  assert.equal(decoding.readVarUint(d), 0)
  assert.equal(decoding.readVarString(d), 'go away')
  assert.equal((await client.closed).code, 4403)
  assert.equal(loads, 0)
  assert.equal(app.collab.getDocumentsCount(), 0)
})

test('a closing connection\'s awareness is removed for everyone, and updates are echoed to their sender', async t => {
  const { url, yws } = await startCollabServer(t)
  const watcher = yws('aw')
  await synced(watcher)
  const client = await rawClient(t, url + '/aw')
  client.send(syncStep1())
  await client.next(f => f[0] === 0 && f[1] === 1, { what: 'SyncStep2' })
  const scratchDoc = new Y.Doc()
  const scratch = new awarenessProtocol.Awareness(scratchDoc)
  scratch.setLocalState({ user: 'raw' })
  client.send(frame(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(scratch, [scratchDoc.clientID])) }))
  await when(watcher.awareness, 'change', { check: () => watcher.awareness.getStates().get(scratchDoc.clientID)?.user === 'raw', what: 'the raw client\'s awareness at the watcher' })
  const update = textUpdate('echo')
  client.send(ywsUpdate(update))
  await client.next(f => f[0] === 0 && f[1] === 2, { what: 'the echo of its own update' })
  client.socket.close()
  await when(watcher.awareness, 'change', { check: () => !watcher.awareness.getStates().has(scratchDoc.clientID), what: 'the raw client\'s awareness to leave the watcher' })
  scratch.destroy()
})
