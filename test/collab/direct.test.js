import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startCollabServer, synced } from '../helpers/server.js'
import { untilDocs } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'

// collab.openDirectConnection(name, context): server-side access that counts
// as a connection (issue 3, item 9; Hocuspocus's DirectConnection).

const text = doc => doc.getText('text').toString()
const HOOKS = ['onChange', 'onStoreDocument', 'afterStoreDocument', 'onDisconnect', 'afterUnloadDocument']
// Short debounce so that the debounced store happens within the test.
const FAST = { debounce: 20, maxDebounce: 100 }

test('transact() reaches connected clients, goes through onChange with the context, and is stored', async t => {
  const record = recordHooks(HOOKS)
  const { app, yws, hocus } = await startCollabServer(t, { ...FAST, ...record.hooks })
  const clients = [yws('direct'), hocus('direct')]
  await Promise.all(clients.map(client => synced(client)))
  const docs = [clients[0].doc, clients[1].document]

  const direct = await app.collab.openDirectConnection('direct', { user: 'server' })
  await direct.transact(doc => doc.getText('text').insert(0, 'from the server'))
  await untilDocs(docs, () => docs.every(doc => text(doc) === 'from the server'), { what: 'the direct edit at both clients' })

  await record.until('onChange', call => call.documentName === 'direct' && call.text === 'from the server', { what: 'onChange for the direct edit' })
  const change = record.calls.onChange.find(call => call.text === 'from the server')
  assert.equal(change.context.user, 'server', 'the direct connection\'s context')
  assert.equal(change.origin.source, 'direct', 'the transaction origin is the direct connection')
  assert.ok(change.update instanceof Uint8Array && change.update.length > 0)
  await record.until('onStoreDocument', call => call.documentName === 'direct' && call.text === 'from the server', { what: 'the direct edit to be stored' })

  // Clients' edits reach the direct connection's document.
  docs[0].getText('text').insert(0, '> ')
  await untilDocs([direct.document], () => text(direct.document) === '> from the server', { what: 'a client edit at the direct connection' })
  await direct.disconnect()
})

test('a direct connection loads the document, keeps it loaded, and lets it unload on disconnect', async t => {
  const record = recordHooks(HOOKS)
  let loads = 0
  const { app, yws, drop } = await startCollabServer(t, {
    ...FAST,
    ...record.hooks,
    async onLoadDocument () {
      loads++
      const seed = new Y.Doc()
      seed.getText('text').insert(0, 'seed')
      return Y.encodeStateAsUpdate(seed)
    }
  })

  const direct = await app.collab.openDirectConnection('kept', { user: 'server' })
  assert.equal(text(direct.document), 'seed')
  assert.equal(app.collab.getDocumentsCount(), 1)

  // A client comes, edits and goes. The direct connection still holds the
  // document: it is stored, but not unloaded.
  const client = yws('kept')
  await synced(client)
  assert.equal(text(client.doc), 'seed')
  client.doc.getText('text').insert(4, ' and client')
  await untilDocs([direct.document], () => text(direct.document) === 'seed and client', { what: 'the client edit at the direct connection' })
  drop(client)
  await record.until('onDisconnect', call => call.documentName === 'kept', { what: 'the client to disconnect' })
  await record.until('afterStoreDocument', call => call.documentName === 'kept' && call.text === 'seed and client', { what: 'the client edit to be stored' })
  assert.equal(record.calls.afterUnloadDocument.length, 0, 'not unloaded while the direct connection is open')
  assert.equal(app.collab.getDocumentsCount(), 1)

  await direct.transact(doc => doc.getText('text').insert(0, 'direct: '))
  await direct.disconnect()
  await record.until('afterUnloadDocument', call => call.documentName === 'kept', { what: 'the document to unload after the direct connection left' })
  const stores = record.calls.onStoreDocument.filter(call => call.documentName === 'kept')
  assert.equal(stores.at(-1).text, 'direct: seed and client', 'the last store before unloading has the last edit')
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.equal(loads, 1, 'loaded once: the document stayed loaded while the direct connection was open')
})
