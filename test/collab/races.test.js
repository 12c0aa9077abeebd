import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { listenCollab, startCollabServer, synced } from '../helpers/server.js'
import { deferred, untilDocs, when } from '../helpers/wait.js'
import { frame, hp, hpAuth, isHp, rawClient, readHp } from '../helpers/raw-client.js'

// Races in the document state machine found in review: a change while
// beforeUnloadDocument decides, a change during fastify.close()'s final
// store, ghost awareness after a reconnect with the same clientID, a change
// while the document loads, and a veto with nobody attached.

/** A Yjs update from another client that inserts `text` into Y.Text 't'. */
function remoteInsert (text) {
  const other = new Y.Doc()
  other.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(other)
}

test('a change while beforeUnloadDocument decides is stored after it, a failed store is retried, and the document unloads only once all is stored', async t => {
  const events = []
  const deciding = deferred('beforeUnloadDocument to start deciding')
  const decide = deferred('the test to let beforeUnloadDocument decide')
  const unloaded = deferred('afterUnloadDocument')
  let stores = 0
  let asked = 0
  const { app } = await startCollabServer(t, {
    debounce: 10,
    maxDebounce: 10,
    storeRetryDelay: 10,
    async onStoreDocument ({ document }) {
      const n = ++stores
      events.push(`store ${n}: ${document.getText('t').length} chars`)
      if (n === 2) throw new Error('disk full')
    },
    async beforeUnloadDocument () {
      events.push('beforeUnload')
      if (++asked === 1) {
        deciding.resolve()
        await decide.promise
      }
      events.push('decided')
    },
    afterUnloadDocument () {
      events.push('afterUnload')
      unloaded.resolve()
    }
  })
  const direct = await app.collab.openDirectConnection('race')
  const document = direct.document
  await direct.transact(doc => doc.getText('t').insert(0, 'a'))
  const disconnected = direct.disconnect()
  await deciding.wait()
  document.applyUpdate(remoteInsert('R'), { source: 'remote' })
  // Node fires timers in the order of their expiry, ties in the order they
  // were armed: this 10 ms timer, armed after the change, fires after the
  // 10 ms debounce timer the change armed. So the store the debounce would
  // start has had its turn, and must still be waiting for the decision.
  await delay(10)
  events.push('released')
  decide.resolve()
  await unloaded.wait()
  await disconnected
  assert.deepEqual(events, [
    'store 1: 1 chars',
    'beforeUnload',
    'released',
    'decided',
    'store 2: 2 chars', // fails
    'store 3: 2 chars', // the retry
    'beforeUnload',
    'decided',
    'afterUnload'
  ])
  assert.equal(app.collab.getDocumentsCount(), 0)
})

test('once fastify.close() begins, changes are refused, and the final stores hold every change the document accepted', async t => {
  const stored = []
  const storing = deferred('onStoreDocument to start')
  const finish = deferred('the test to let the store finish')
  const { app } = await listenCollab({
    debounce: 60_000,
    maxDebounce: 60_000,
    async onStoreDocument ({ document }) {
      const text = document.getText('t').toString()
      if (stored.length === 0) {
        storing.resolve()
        await finish.promise
      }
      stored.push(text)
    }
  })
  // A failed assertion must not leave the store, and so app.close(), waiting forever.
  t.after(() => finish.resolve())
  t.after(() => app.close())
  const direct = await app.collab.openDirectConnection('shutdown')
  const document = direct.document
  await direct.transact(doc => doc.getText('t').insert(0, 'A'))
  assert.equal(document.isLive, true)
  const closing = app.close()
  await storing.wait()
  assert.equal(document.isLive, false)
  await assert.rejects(direct.transact(doc => doc.getText('t').insert(1, 'B')), { code: 'FST_COLLAB_CLOSED' })
  assert.throws(() => document.applyUpdate(remoteInsert('R'), { source: 'remote' }), { code: 'FST_COLLAB_CLOSED' })
  // A server-side edit outside any connection cannot be refused: it gets a store of its own.
  document.getText('t').insert(1, 'C')
  finish.resolve()
  await closing
  assert.deepEqual(stored, ['A', 'AC'])
  await assert.rejects(direct.transact(doc => doc.getText('t').insert(0, 'late')), { code: 'FST_COLLAB_CLOSED' })
})

test('a Hocuspocus update that arrives once fastify.close() began gets SyncStatus 0 and is not applied', async t => {
  const stored = []
  const storing = deferred('onStoreDocument to start')
  const finish = deferred('the test to let the store finish')
  const { app } = await listenCollab({
    debounce: 60_000,
    maxDebounce: 60_000,
    async onStoreDocument ({ document }) {
      storing.resolve()
      await finish.promise
      stored.push(document.getText('t').toString())
    }
  })
  // A failed assertion must not leave the store, and so app.close(), waiting forever.
  t.after(() => finish.resolve())
  t.after(() => app.close())
  // The socket is upgraded by a second app, so closing the first one does not
  // close it (its preClose closes only its own sockets): the session is still
  // attached while the document closes.
  const front = Fastify({ logger: false })
  await front.register(fastifyCollab)
  front.get('/relay/:document', async (request, reply) => {
    app.collab.handleConnection(await reply.upgrade(), request, request.params.document)
  })
  await front.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => front.close())
  const client = await rawClient(t, `ws://127.0.0.1:${front.server.address().port}/relay/late`)
  const update = text => hp('late', 0, e => {
    encoding.writeVarUint(e, 2)
    encoding.writeVarUint8Array(e, remoteInsert(text))
  })
  const syncStatus = async () => decoding.readVarInt(readHp(await client.next(isHp('late', 8), { what: 'SyncStatus' })).d)
  client.send(hpAuth('late'))
  await client.next(isHp('late', 2, 2), { what: 'Authenticated' })
  client.send(update('kept'))
  assert.equal(await syncStatus(), 1)

  const closing = app.close()
  await storing.wait()
  client.send(update('late'))
  assert.equal(await syncStatus(), 0)
  finish.resolve()
  await closing
  assert.deepEqual(stored, ['kept'])
})

test('a y-websocket provider that loses its socket and reconnects with the same clientID leaves no ghost awareness state', async t => {
  const { app, yws } = await startCollabServer(t)
  const keeper = yws('ghost')
  await synced(keeper)
  const doc = new Y.Doc()
  doc.clientID = 77
  const provider = yws('ghost', { doc })
  await synced(provider)
  const states = keeper.awareness.getStates()
  const sees = user => ({ check: () => states.get(77)?.user === user, what: `client 77 as ${user}` })
  const gone = what => ({ check: () => !states.has(77), what })

  provider.awareness.setLocalState({ user: 'first' })
  await when(keeper.awareness, 'change', sees('first'))
  // A network drop: no null state is sent (a graceful disconnect() sends one), and y-websocket reconnects by itself.
  provider.ws.terminate()
  await when(keeper.awareness, 'change', gone('client 77 to leave after its first socket'))
  await when(provider, 'status', { check: () => provider.wsconnected, what: 'the reconnect' })
  await synced(provider)

  // The server kept client 77's clock: the state the reconnect resent was
  // not newer and was ignored, and this one arrives as `updated`, not `added`.
  provider.awareness.setLocalStateField('user', 'second')
  await when(keeper.awareness, 'change', sees('second'))
  provider.shouldConnect = false
  provider.ws.terminate()
  await when(keeper.awareness, 'change', gone('client 77 to leave after its second socket'))
  assert.equal(app.collab.documents.get('ghost').awareness.getStates().has(77), false)
})

/** A y-websocket awareness frame (message type 1) with one client's state. */
const awarenessFrame = (clientId, clock, state) => frame(e => {
  encoding.writeVarUint(e, 1)
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, 1)
  encoding.writeVarUint(inner, clientId)
  encoding.writeVarUint(inner, clock)
  encoding.writeVarString(inner, JSON.stringify(state))
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
})
const syncStep1 = () => frame(e => {
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc()))
})

test('a reconnect that takes over a clientID before the old socket closes keeps its state; its own close removes it', async t => {
  const disconnects = []
  let disconnected = deferred('onDisconnect')
  const { app, url, yws } = await startCollabServer(t, {
    onDisconnect ({ clientsCount }) {
      disconnects.push(clientsCount)
      disconnected.resolve()
    }
  })
  const keeper = yws('takeover')
  await synced(keeper)
  const states = keeper.awareness.getStates()

  const old = await rawClient(t, `${url}/takeover`)
  old.send(syncStep1())
  old.send(awarenessFrame(77, 1, { user: 'old' }))
  await when(keeper.awareness, 'change', { check: () => states.get(77)?.user === 'old', what: 'the old session\'s state' })

  // The same provider on a new socket: its state is an `updated` for the server.
  const fresh = await rawClient(t, `${url}/takeover`)
  fresh.send(syncStep1())
  fresh.send(awarenessFrame(77, 2, { user: 'new' }))
  await when(keeper.awareness, 'change', { check: () => states.get(77)?.user === 'new', what: 'the new session\'s state' })

  const document = app.collab.documents.get('takeover')
  old.socket.close()
  await disconnected.wait()
  assert.equal(document.awareness.getStates().get(77)?.user, 'new', 'the old session no longer owns client 77')

  disconnected = deferred('the second onDisconnect')
  fresh.socket.close()
  await disconnected.wait()
  await when(keeper.awareness, 'change', { check: () => !states.has(77), what: 'client 77 to leave with the new session' })
  assert.deepEqual(disconnects, [2, 1])
})

test('a change offered while the document loads is refused with FST_COLLAB_LOADING; once live it is applied, broadcast and stored', async t => {
  const loading = deferred('onLoadDocument to start')
  const load = deferred('the test to let the load finish')
  const origins = []
  const stored = deferred('onStoreDocument')
  const { app, hocus } = await startCollabServer(t, {
    debounce: 10,
    maxDebounce: 10,
    async onLoadDocument () {
      loading.resolve()
      await load.promise
    },
    onChange ({ origin }) { origins.push(origin?.source) },
    onStoreDocument ({ document }) { stored.resolve(document.getText('t').toString()) }
  })
  const client = hocus('loading')
  await loading.wait()
  const document = app.collab.documents.get('loading')
  assert.equal(document.isLive, false)
  assert.throws(() => document.applyUpdate(remoteInsert('R'), { source: 'remote' }), { code: 'FST_COLLAB_LOADING' })
  assert.equal(document.getText('t').length, 0, 'a refused update changes nothing')
  load.resolve()
  await document.ready
  await document.applyUpdate(remoteInsert('R'), { source: 'remote' })
  assert.deepEqual(origins, ['remote'])
  await untilDocs([client.document], () => client.document.getText('t').toString() === 'R', { what: 'the broadcast' })
  assert.equal(await stored.wait(), 'R')
})

test('after a veto with nobody attached the document stays loaded; the store after its next change asks again', async t => {
  let asked = 0
  const vetoed = deferred('beforeUnloadDocument to veto the unload')
  const unloaded = deferred('afterUnloadDocument')
  const stores = []
  const { app } = await startCollabServer(t, {
    debounce: 10,
    maxDebounce: 10,
    onStoreDocument ({ document }) { stores.push(document.getText('t').toString()) },
    beforeUnloadDocument () {
      if (++asked === 1) {
        vetoed.resolve()
        throw new Error('keep it')
      }
    },
    afterUnloadDocument () { unloaded.resolve() }
  })
  const direct = await app.collab.openDirectConnection('veto')
  const document = direct.document
  await direct.disconnect()
  await vetoed.wait()
  assert.equal(app.collab.getDocumentsCount(), 1, 'vetoed: still loaded')
  assert.equal(document.isLive, true)
  document.applyUpdate(remoteInsert('R'), { source: 'remote' })
  await unloaded.wait()
  assert.deepEqual(stores, ['R'])
  assert.equal(asked, 2)
  assert.equal(app.collab.getDocumentsCount(), 0)
})

test('a store hook that edits the document gets a store of its own, and the unload waits for it', async t => {
  const stores = []
  const unloaded = deferred('afterUnloadDocument')
  const { app } = await startCollabServer(t, {
    debounce: 10,
    maxDebounce: 10,
    onStoreDocument ({ document }) {
      stores.push(document.getText('t').toString())
      // A server-side edit made by the store itself, while it runs.
      if (stores.length === 1) document.getText('t').insert(0, 'stamp:')
    },
    afterUnloadDocument () { unloaded.resolve() }
  })
  const direct = await app.collab.openDirectConnection('stamped')
  await direct.transact(doc => doc.getText('t').insert(0, 'x'))
  await direct.disconnect()
  await unloaded.wait()
  assert.deepEqual(stores, ['x', 'stamp:x'])
})
