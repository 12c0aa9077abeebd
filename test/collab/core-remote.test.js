import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { startCollabServer, synced } from '../helpers/server.js'
import { when, untilDocs } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'

// Room for scale-out: a document takes updates and awareness from a source
// that is not a socket (a remote instance), with that source as the origin.

test('updates and awareness from a remote source reach every client and carry their origin', async t => {
  const { hooks, calls, until } = recordHooks(['onChange', 'onAwarenessUpdate'])
  const { app, yws, hocus } = await startCollabServer(t, hooks)
  const a = yws('remote')
  const b = hocus('remote')
  await Promise.all([synced(a), synced(b)])

  const document = app.collab.documents.get('remote')
  const origin = { source: 'remote', instance: 'node-2', context: { from: 'redis' } }
  const elsewhere = new Y.Doc()
  elsewhere.getText('text').insert(0, 'from another instance')
  await document.applyUpdate(Y.encodeStateAsUpdate(elsewhere), origin)
  await untilDocs([a.doc, b.document], () =>
    a.doc.getText('text').toString() === 'from another instance' && b.document.getText('text').toString() === 'from another instance')
  const change = calls.onChange.find(call => call.origin === origin)
  assert.ok(change, 'onChange saw the remote origin')
  assert.deepEqual(change.context, { from: 'redis' })

  const remoteAwareness = new awarenessProtocol.Awareness(elsewhere)
  remoteAwareness.setLocalState({ user: 'remote user' })
  document.applyAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(remoteAwareness, [elsewhere.clientID]), origin)
  remoteAwareness.destroy()
  await when(a.awareness, 'change', { check: () => a.awareness.getStates().get(elsewhere.clientID)?.user === 'remote user', what: 'remote awareness at y-websocket' })
  await when(b.awareness, 'change', { check: () => b.awareness.getStates().get(elsewhere.clientID)?.user === 'remote user', what: 'remote awareness at Hocuspocus' })
  await until('onAwarenessUpdate', call => call.origin === origin)

  assert.throws(() => document.applyUpdate(Uint8Array.of(1, 2, 3), origin))
  assert.equal(a.doc.getText('text').toString(), 'from another instance')
})

test('closeConnections() closes the sockets of one document with 4205, or of all', async t => {
  const { app, yws, hocus } = await startCollabServer(t)
  const a = yws('close-a')
  const b = hocus('close-b')
  await Promise.all([synced(a), synced(b)])
  const closedA = when(a, 'connection-close', { what: 'the y-websocket socket to close' })
  app.collab.closeConnections('close-a')
  const [event] = await closedA
  assert.equal(event.code, 4205)
  assert.equal(b.isSynced, true, 'the other document is untouched')
  const closedB = when(b, 'close', { what: 'the Hocuspocus socket to close' })
  app.collab.closeConnections()
  const [{ event: closeB }] = await closedB
  assert.equal(closeB.code, 4205)
})
