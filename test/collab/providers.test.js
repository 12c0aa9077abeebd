import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocket } from 'ws'
import { HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { startCollabServer, synced, acknowledged } from '../helpers/server.js'
import { when, untilDocs } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'
import { isHp, syncStatusOf } from '../helpers/raw-client.js'

// y-websocket (room in the URL) and Hocuspocus (name in each frame) clients on
// one document of one server: issue 3, "Protocols" items 1–5.

const text = provider => (provider.doc ?? provider.document).getText('text').toString()

test('a y-websocket and a Hocuspocus client on one document converge in both directions', async t => {
  const { app, yws, hocus } = await startCollabServer(t)
  const a = yws('converge')
  const b = hocus('converge')
  await Promise.all([synced(a), synced(b)])

  a.doc.getText('text').insert(0, 'from y-websocket')
  await untilDocs([b.document], () => text(b) === 'from y-websocket', { what: 'the y-websocket edit at Hocuspocus' })

  b.document.getText('text').insert(0, 'from Hocuspocus, ')
  await untilDocs([a.doc], () => text(a) === 'from Hocuspocus, from y-websocket', { what: 'the Hocuspocus edit at y-websocket' })
  // The server acknowledged the Hocuspocus client's update with SyncStatus.
  await acknowledged(b)

  // Concurrent edits from both sides meet in one state.
  a.doc.getText('text').insert(0, 'A')
  b.document.getText('text').insert(text(b).length, 'B')
  await untilDocs([a.doc, b.document], () => text(a) === text(b) && text(a).length === 35, { what: 'concurrent edits to converge' })
  assert.equal(text(a), 'Afrom Hocuspocus, from y-websocketB')

  // A late joiner of each kind gets the server's state.
  const lateY = yws('converge')
  const lateH = hocus('converge')
  await Promise.all([synced(lateY), synced(lateH)])
  assert.equal(text(lateY), text(a))
  assert.equal(text(lateH), text(a))
  assert.equal(app.collab.getDocumentsCount(), 1)
  assert.equal(app.collab.getConnectionsCount(), 4)
})

test('awareness flows both ways, and a closed client is removed at the others', async t => {
  const { yws, hocus, drop } = await startCollabServer(t)
  const a = yws('awareness')
  const b = hocus('awareness')
  const c = yws('awareness')
  await Promise.all([synced(a), synced(b), synced(c)])
  const idA = a.doc.clientID
  const idB = b.document.clientID

  a.awareness.setLocalStateField('user', { name: 'y-websocket' })
  await when(b.awareness, 'change', { check: () => b.awareness.getStates().get(idA)?.user?.name === 'y-websocket', what: 'y-websocket awareness at Hocuspocus' })

  b.setAwarenessField('user', { name: 'hocuspocus' })
  await when(a.awareness, 'change', { check: () => a.awareness.getStates().get(idB)?.user?.name === 'hocuspocus', what: 'Hocuspocus awareness at y-websocket' })
  await when(c.awareness, 'change', { check: () => c.awareness.getStates().get(idB)?.user?.name === 'hocuspocus', what: 'Hocuspocus awareness at the second y-websocket client' })

  // y-websocket's destroy() sends no awareness removal: only the server can tell the others.
  drop(a)
  await Promise.all([
    when(b.awareness, 'change', { check: () => !b.awareness.getStates().has(idA), what: 'the closed y-websocket client to leave Hocuspocus awareness' }),
    when(c.awareness, 'change', { check: () => !c.awareness.getStates().has(idA), what: 'the closed y-websocket client to leave y-websocket awareness' })
  ])

  drop(b)
  await when(c.awareness, 'change', { check: () => !c.awareness.getStates().has(idB), what: 'the closed Hocuspocus client to leave y-websocket awareness' })
})

test('a new connection receives the full awareness state', async t => {
  const { yws, hocus } = await startCollabServer(t)
  const a = yws('awareness-late')
  const b = hocus('awareness-late')
  a.awareness.setLocalStateField('user', { name: 'early y-websocket' })
  b.setAwarenessField('user', { name: 'early hocuspocus' })
  await Promise.all([synced(a), synced(b)])
  await when(a.awareness, 'change', { check: () => a.awareness.getStates().get(b.document.clientID)?.user !== undefined, what: 'the peers to see each other' })

  for (const late of [yws('awareness-late'), hocus('awareness-late')]) {
    const awareness = late.awareness
    await when(awareness, 'change', {
      check: () => awareness.getStates().get(a.doc.clientID)?.user?.name === 'early y-websocket' &&
        awareness.getStates().get(b.document.clientID)?.user?.name === 'early hocuspocus',
      what: 'both earlier awareness states at a late joiner'
    })
  }
})

// Two ways to make a connection read-only in onAuthenticate: Hocuspocus's
// (set `connectionConfig.readOnly` on the payload), and returning it.
const READ_ONLY_STYLES = {
  'setting payload.connectionConfig.readOnly': payload => { payload.connectionConfig.readOnly = true },
  'returning { connectionConfig: { readOnly: true } }': () => ({ connectionConfig: { readOnly: true } })
}

for (const [style, markReadOnly] of Object.entries(READ_ONLY_STYLES)) {
  test(`read-only (${style}): receive everything, change nothing; Hocuspocus gets SyncStatus false`, async t => {
    await readOnlyScenario(t, markReadOnly)
  })
}

async function readOnlyScenario (t, markReadOnly) {
  const authenticated = []
  const { yws, hocus } = await startCollabServer(t, {
    // Read-only by token (Hocuspocus) or by a URL parameter (y-websocket sends no token).
    async onAuthenticate (payload) {
      const readOnly = payload.token === 'read' || payload.request.query.mode === 'read'
      authenticated.push(readOnly)
      if (readOnly) return markReadOnly(payload)
    }
  })
  const writer = yws('read-only')
  const readerY = yws('read-only', { params: { mode: 'read' } })
  const readerH = hocus('read-only', { token: 'read' })
  const statuses = []
  readerH.on('message', ({ event }) => {
    const frame = new Uint8Array(event.data)
    if (isHp('read-only', 8)(frame)) statuses.push(syncStatusOf(frame))
  })
  await Promise.all([synced(writer), synced(readerY), synced(readerH)])
  assert.equal(readerH.authorizedScope, 'readonly')
  assert.deepEqual(authenticated.toSorted(), [false, true, true])

  // Readers receive document updates and awareness.
  writer.doc.getText('text').insert(0, 'written')
  writer.awareness.setLocalStateField('user', { name: 'writer' })
  await untilDocs([readerY.doc, readerH.document], () => text(readerY) === 'written' && text(readerH) === 'written', { what: 'the writer\'s edit at both readers' })
  await when(readerH.awareness, 'change', { check: () => readerH.awareness.getStates().get(writer.doc.clientID)?.user?.name === 'writer', what: 'the writer\'s awareness at the Hocuspocus reader' })

  // The Hocuspocus reader's update is refused with SyncStatus 0.
  readerH.document.getText('text').insert(0, 'H')
  await when(readerH, 'message', { check: () => statuses.includes(0), what: 'SyncStatus false' })
  assert.ok(readerH.hasUnsyncedChanges, 'a refused update stays unsynced at the client')

  // The y-websocket reader's update, then its awareness: frames of one socket
  // are handled in order, so once the writer sees the awareness, the update
  // before it has been handled too.
  readerY.doc.getText('text').insert(0, 'Y')
  readerY.awareness.setLocalStateField('user', { name: 'reader' })
  await when(writer.awareness, 'change', { check: () => writer.awareness.getStates().get(readerY.doc.clientID)?.user?.name === 'reader', what: 'the reader\'s awareness at the writer' })

  assert.equal(text(writer), 'written')
  // A fresh client sees the server's state: neither reader changed it.
  const fresh = hocus('read-only')
  await synced(fresh)
  assert.equal(text(fresh), 'written')
  assert.equal(text(writer), 'written')
}

test('the route\'s context reaches the hooks for both client kinds, with the connection as the origin', async t => {
  const record = recordHooks(['connected', 'onChange'])
  const { url, yws, hocus } = await startCollabServer(t, record.hooks, {
    context: request => ({ user: request.query.user ?? 'nobody' })
  })
  const a = yws('context', { params: { user: 'ana' } })
  const b = hocus('context', { url: `${url}?user=bob` })
  await Promise.all([synced(a), synced(b)])
  await record.until('connected', call => call.context.user === 'bob', { what: 'connected with bob\'s context' })
  assert.deepEqual(record.calls.connected.map(call => call.context.user).toSorted(), ['ana', 'bob'])

  a.doc.getText('text').insert(0, 'a')
  await record.until('onChange', call => call.text === 'a', { what: 'ana\'s change' })
  await untilDocs([b.document], () => text(b) === 'a', { what: 'ana\'s change at bob' })
  b.document.getText('text').insert(1, 'b')
  await record.until('onChange', call => call.text === 'ab', { what: 'bob\'s change' })
  const [ana, bob] = ['a', 'ab'].map(text => record.calls.onChange.find(call => call.text === text))
  assert.equal(ana.context.user, 'ana')
  assert.equal(bob.context.user, 'bob')
  assert.equal(ana.origin.source, 'connection')
  assert.equal(bob.origin.source, 'connection')
  assert.equal(ana.documentName, 'context')
})

test('one Hocuspocus socket carries several documents beside y-websocket clients, and nothing crosses between them', async t => {
  const { url, yws, hocus } = await startCollabServer(t)
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket })
  t.after(() => socket.destroy())
  const names = ['multi-1', 'multi-2', 'multi-3']
  const shared = names.map(name => {
    const provider = hocus(name, { websocketProvider: socket })
    provider.attach()
    return provider
  })
  const single = names.map(name => yws(name))
  await Promise.all([...shared, ...single].map(provider => synced(provider)))

  const docs = [...shared.map(provider => provider.document), ...single.map(provider => provider.doc)]
  names.forEach((name, i) => single[i].doc.getText('text').insert(0, `y-websocket ${name}`))
  await untilDocs(docs, () => names.every((name, i) => text(shared[i]) === `y-websocket ${name}`), { what: 'each y-websocket edit on the shared socket' })
  names.forEach((name, i) => shared[i].document.getText('text').insert(text(shared[i]).length, `, hocuspocus ${name}`))
  const expected = i => `y-websocket ${names[i]}, hocuspocus ${names[i]}`
  await untilDocs(docs, () => names.every((_, i) => text(shared[i]) === expected(i) && text(single[i]) === expected(i)), { what: 'each document to converge on its own' })
  await Promise.all(shared.map(provider => acknowledged(provider)))
})
