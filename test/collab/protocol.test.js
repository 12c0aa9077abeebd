import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { WebSocketServer, WebSocket } from 'ws'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { once, within } from '../helpers/wait.js'

// The pure codecs are internal: they are imported from the build output, as the package compiles them.
const dist = new URL('../../dist/lib/collab/protocol/', import.meta.url)
const hp = await import(new URL('hocuspocus.js', dist))
const yws = await import(new URL('y-websocket.js', dist))

function bytes (write) {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

test('y-websocket frames match y-protocols byte for byte', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'abc')
  const sv = Y.encodeStateVector(doc)
  const update = Y.encodeStateAsUpdate(doc)
  assert.deepEqual(yws.encodeSyncStep1(sv), bytes(e => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
  assert.deepEqual(yws.encodeSyncStep2(update), bytes(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) }))
  assert.deepEqual(yws.encodeUpdate(update), bytes(e => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, update) }))
  assert.deepEqual(yws.encodePermissionDenied('no'), Uint8Array.of(2, 0, 2, 0x6e, 0x6f))

  assert.deepEqual(yws.decodeYWebsocketFrame(yws.encodeSyncStep1(sv)), { type: 'sync-step-1', stateVector: sv })
  assert.deepEqual(yws.decodeYWebsocketFrame(yws.encodeUpdate(update)), { type: 'update', update })
  assert.deepEqual(yws.decodeYWebsocketFrame(Uint8Array.of(3)), { type: 'query-awareness' })
  const awareness = new awarenessProtocol.Awareness(doc)
  const awarenessUpdate = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
  assert.deepEqual(yws.decodeYWebsocketFrame(yws.encodeAwareness(awarenessUpdate)), { type: 'awareness', update: awarenessUpdate })
  awareness.destroy()
})

test('y-websocket decoding refuses truncated and unknown frames', () => {
  assert.throws(() => yws.decodeYWebsocketFrame(Uint8Array.of()))
  assert.throws(() => yws.decodeYWebsocketFrame(Uint8Array.of(0, 2, 5, 1)), /end of/i)
  assert.throws(() => yws.decodeYWebsocketFrame(Uint8Array.of(0, 7, 0)), /unknown sync message type 7/)
  assert.throws(() => yws.decodeYWebsocketFrame(Uint8Array.of(2, 0, 0)), /unknown y-websocket message type 2/)
  assert.throws(() => yws.decodeYWebsocketFrame(Uint8Array.of(42)), /unknown y-websocket message type 42/)
})

test('Hocuspocus server frames have the layout @hocuspocus/provider reads', () => {
  const read = (frame) => {
    const d = decoding.createDecoder(frame)
    return { address: decoding.readVarString(d), type: decoding.readVarUint(d), d }
  }
  let f = read(hp.encodeAuthenticated('doc', false))
  assert.equal(f.address, 'doc')
  assert.equal(f.type, 2)
  assert.equal(decoding.readVarUint(f.d), 2)
  assert.equal(decoding.readVarString(f.d), 'read-write')
  f = read(hp.encodeAuthenticated('doc', true))
  decoding.readVarUint(f.d)
  assert.equal(decoding.readVarString(f.d), 'readonly')
  f = read(hp.encodePermissionDenied('ü/文', 'because'))
  assert.equal(f.address, 'ü/文')
  assert.equal(decoding.readVarUint(f.d), 1)
  assert.equal(decoding.readVarString(f.d), 'because')
  f = read(hp.encodeSyncStatus('doc', true))
  assert.equal(f.type, 8)
  assert.equal(decoding.readVarInt(f.d), 1) // the provider reads it with readVarInt
  f = read(hp.encodeSyncStatus('doc', false))
  assert.equal(decoding.readVarInt(f.d), 0)
  f = read(hp.encodeStateless('doc', '{"a":1}'))
  assert.equal(f.type, 5)
  assert.equal(decoding.readVarString(f.d), '{"a":1}')
  f = read(hp.encodeClose('doc', 'bye'))
  assert.equal(f.type, 7)
  assert.equal(decoding.readVarString(f.d), 'bye')
  assert.deepEqual(hp.PONG_FRAME, Uint8Array.of(10))
})

test('Hocuspocus decoding: Ping/Pong, Auth with and without a provider version, addresses with a session id', () => {
  assert.deepEqual(hp.decodeHocuspocusFrame(Uint8Array.of(9)), { type: 'ping' })
  assert.deepEqual(hp.decodeHocuspocusFrame(Uint8Array.of(10)), { type: 'pong' })
  const v4 = bytes(e => { encoding.writeVarString(e, 'd'); encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'tok'); encoding.writeVarString(e, '4.8.0') })
  assert.deepEqual(hp.decodeHocuspocusFrame(v4), { address: 'd', type: 'auth', token: 'tok', providerVersion: '4.8.0' })
  const v3 = bytes(e => { encoding.writeVarString(e, 'd'); encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'tok') })
  assert.deepEqual(hp.decodeHocuspocusFrame(v3), { address: 'd', type: 'auth', token: 'tok', providerVersion: undefined })
  assert.deepEqual(hp.parseAddress('name\0session'), { documentName: 'name', sessionId: 'session' })
  assert.deepEqual(hp.parseAddress('name'), { documentName: 'name', sessionId: null })
})

test('Hocuspocus decoding refuses what a client never sends, and truncated frames', () => {
  const typed = (type, write = () => {}) => bytes(e => { encoding.writeVarString(e, 'doc'); encoding.writeVarUint(e, type); write(e) })
  for (const type of [4, 6, 8]) {
    assert.throws(() => hp.decodeHocuspocusFrame(typed(type, e => encoding.writeVarString(e, 'x'))), /server-side only/)
  }
  for (const type of [11, 99]) {
    assert.throws(() => hp.decodeHocuspocusFrame(typed(type, e => encoding.writeVarString(e, 'x'))), /unexpected Hocuspocus message type/)
  }
  assert.throws(() => hp.decodeHocuspocusFrame(typed(2, e => { encoding.writeVarUint(e, 2); encoding.writeVarString(e, 'read-write') })), /unexpected auth message type 2/)
  assert.throws(() => hp.decodeHocuspocusFrame(Uint8Array.of(5, 0x61)), /end of/i)
  assert.throws(() => hp.decodeHocuspocusFrame(typed(0, e => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 100) })), /end of/i)
})

test('the server-frame decoder (a direct connection\'s side of a session on another instance) reads every frame the server encodes, and refuses what a server never sends', () => {
  const update = Y.encodeStateAsUpdate(new Y.Doc())
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeAuthenticated('d', false)), { address: 'd', type: 'authenticated', readOnly: false })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeAuthenticated('d', true)), { address: 'd', type: 'authenticated', readOnly: true })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodePermissionDenied('d', 'no')), { address: 'd', type: 'permission-denied', reason: 'no' })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeSyncStep1('d', Uint8Array.of(0))), { address: 'd', type: 'sync-step-1', stateVector: Uint8Array.of(0) })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeSyncStep2('d', update)), { address: 'd', type: 'sync-step-2', update })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeUpdate('d', update)), { address: 'd', type: 'update', update })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeSyncStatus('d', true)), { address: 'd', type: 'sync-status', applied: true })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeSyncStatus('d', false)), { address: 'd', type: 'sync-status', applied: false })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeStateless('d', 'x')), { address: 'd', type: 'stateless', payload: 'x' })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeClose('d', 'bye')), { address: 'd', type: 'close', reason: 'bye' })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.encodeAwareness('d', Uint8Array.of(0))), { address: 'd', type: 'awareness', update: Uint8Array.of(0) })
  assert.deepEqual(hp.decodeHocuspocusServerFrame(hp.PONG_FRAME), { type: 'pong' })
  const typed = (type, write = () => {}) => bytes(e => { encoding.writeVarString(e, 'doc'); encoding.writeVarUint(e, type); write(e) })
  assert.throws(() => hp.decodeHocuspocusServerFrame(typed(2, e => { encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'token') })), /unexpected auth message type 0 from a server/)
  for (const type of [4, 6, 11]) assert.throws(() => hp.decodeHocuspocusServerFrame(typed(type)), /unexpected Hocuspocus message type/)
  assert.throws(() => hp.decodeHocuspocusServerFrame(typed(8)), /end of/i)
})

test('the decoder reads what a real @hocuspocus/provider 4.8 sends on open: Token with its version, SyncStep1, awareness', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const frames = []
  const gotThree = new Promise(resolve => {
    wss.on('connection', socket => socket.on('message', data => {
      frames.push(hp.decodeHocuspocusFrame(new Uint8Array(data)))
      if (frames.length === 3) resolve()
    }))
  })
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'x')
  const provider = new HocuspocusProvider({ url: `ws://127.0.0.1:${wss.address().port}`, name: 'Grüße/文档 1', document: doc, token: 'secret', WebSocketPolyfill: WebSocket })
  t.after(() => { provider.destroy(); wss.close() })
  await within(gotThree, { what: 'the provider\'s first three frames' })
  assert.deepEqual(frames[0], { address: 'Grüße/文档 1', type: 'auth', token: 'secret', providerVersion: frames[0].providerVersion })
  assert.match(frames[0].providerVersion, /^4\./)
  assert.equal(frames[1].type, 'sync-step-1')
  assert.deepEqual(frames[1].stateVector, Y.encodeStateVector(doc))
  assert.equal(frames[2].type, 'awareness')
})
