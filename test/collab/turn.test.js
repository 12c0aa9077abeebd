// The Update frames synced sessions send a document during one event-loop turn, applied together at its
// end (lib/collab/turn.ts, LoadedDocument.applyTurn).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { sqlite } from 'fastify-collab/sqlite'
import { startCollabServer } from '../helpers/server.js'
import { tempDir } from '../helpers/cleanup.js'
import { deferred } from '../helpers/wait.js'
import { rawClient, hp, hpAuth, isHp, hpUpdate, hpAwareness, awarenessUpdate, textUpdate, syncStatusOf } from '../helpers/raw-client.js'

/** A Hocuspocus client of `name` on `url`, authenticated as `user` and synced (its SyncStep2 answered). */
async function syncedClient (t, url, name, user = 'token') {
  const client = await rawClient(t, url)
  client.send(hpAuth(name, user))
  await client.next(isHp(name, 2, 2), { what: 'Authenticated' })
  client.send(hpUpdate(name, Y.encodeStateAsUpdate(new Y.Doc()), 1))
  await client.next(isHp(name, 8), { what: 'the SyncStatus of the SyncStep2' })
  return client
}

/**
 * Sends what `write` sends, then holds this process's event loop for 100 ms: the writes reach the kernel at
 * once (ws writes synchronously to an idle socket), so the server reads every socket in one poll phase.
 */
function inOneTurn (write) {
  write()
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
}

/**
 * A server whose onAuthenticate makes the token the user and whose onChange records each change with its
 * user, and two synced clients of `name`, ada and bob.
 */
async function adaAndBob (t, name) {
  const changes = []
  const { url, app } = await startCollabServer(t, {
    async onAuthenticate ({ token }) { return { user: token } },
    async onChange ({ update, context }) { changes.push({ user: context.user, update }) }
  })
  const [ada, bob] = [await syncedClient(t, url, name, 'ada'), await syncedClient(t, url, name, 'bob')]
  return { changes, ada, bob, document: app.collab.documents.get(name) }
}

const statuses = (client, name) => client.frames.filter(isHp(name, 8)).map(syncStatusOf)
const textOf = update => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText('text').toString()
}

test('the updates several sessions send in one event-loop turn, awareness between them, are applied in one transaction: onChange runs once per session, with its context and its own update, and each frame gets its SyncStatus', { timeout: 30_000 }, async t => {
  const { changes, ada, bob, document } = await adaAndBob(t, 'turn')
  let transactions = 0
  document.on('update', () => { transactions++ })

  const adaDoc = new Y.Doc()
  const sent = { ada: ['one', ' two'].map(word => textUpdate(word, adaDoc)), bob: [textUpdate('three')] }
  // With an awareness frame after each update, as a provider sends its cursor with most keystrokes: it
  // need not wait for the updates, so it does not split the turn.
  inOneTurn(() => {
    ada.send(hpUpdate('turn', sent.ada[0]))
    ada.send(hpAwareness('turn', awarenessUpdate([[1001, 1, '{"cursor":1}']])))
    ada.send(hpUpdate('turn', sent.ada[1]))
    ada.send(hpAwareness('turn', awarenessUpdate([[1001, 2, '{"cursor":2}']])))
    bob.send(hpUpdate('turn', sent.bob[0]))
    bob.send(hpAwareness('turn', awarenessUpdate([[1002, 1, '{"cursor":1}']])))
  })

  await ada.until(() => statuses(ada, 'turn').length === 3, { what: 'a SyncStatus per frame of ada' })
  await bob.until(() => statuses(bob, 'turn').length === 2, { what: 'a SyncStatus per frame of bob' })
  assert.deepEqual(statuses(ada, 'turn'), [1, 1, 1])
  assert.deepEqual(statuses(bob, 'turn'), [1, 1])
  assert.equal(transactions, 1, 'one Yjs transaction for the turn')
  assert.deepEqual(changes.map(change => change.user).sort(), ['ada', 'bob'], 'one onChange per session')
  const expected = { ada: 'one two', bob: 'three' }
  for (const { user, update } of changes) assert.equal(textOf(update), expected[user], `${user}'s onChange carries ${user}'s update only`)
  const text = document.getText('text').toString()
  assert.ok(text.includes('one two') && text.includes('three') && text.length === 'one twothree'.length, text)
})

test('an observer that edits the document while a turn\'s transaction ends makes a change of its own: onChange gets it, and each session\'s change once', { timeout: 30_000 }, async t => {
  const { changes, ada, bob, document } = await adaAndBob(t, 'observed')
  // An app's observer that stamps every change: Yjs runs its transaction inside the first one's cleanup.
  document.getText('text').observe(() => document.getMap('meta').set('stamped', true))

  inOneTurn(() => {
    ada.send(hpUpdate('observed', textUpdate('from ada')))
    bob.send(hpUpdate('observed', textUpdate('from bob')))
  })
  await ada.until(() => statuses(ada, 'observed').length === 2, { what: 'ada\'s SyncStatus' })
  await bob.until(() => statuses(bob, 'observed').length === 2, { what: 'bob\'s SyncStatus' })

  assert.deepEqual(changes.map(change => change.user ?? 'observer').sort(), ['ada', 'bob', 'observer'])
  const stamp = changes.find(change => change.user === undefined)
  const stamped = new Y.Doc()
  Y.applyUpdate(stamped, stamp.update)
  assert.equal(stamped.getMap('meta').get('stamped'), true, 'the observer\'s change is the stamp')
  assert.equal(stamped.getText('text').toString(), '', 'and nothing of the sessions\' changes')
})

test('a turn\'s updates go in transactions of at most 128: 300 frames of one read make three onChange calls, and 300 SyncStatus 1', { timeout: 30_000 }, async t => {
  const changes = []
  const { url, app } = await startCollabServer(t, { async onChange ({ update }) { changes.push(update) } })
  const client = await syncedClient(t, url, 'chunks')
  const doc = new Y.Doc()
  const updates = Array.from({ length: 300 }, (_, i) => textUpdate(String(i % 10), doc))
  // One write, so one read at the server.
  const tcp = client.socket._socket
  tcp.cork()
  for (const update of updates) client.send(hpUpdate('chunks', update))
  tcp.uncork()
  await client.until(() => statuses(client, 'chunks').length === 1 + updates.length, { what: 'a SyncStatus per update' })
  assert.ok(statuses(client, 'chunks').every(status => status === 1))
  assert.equal(changes.length, 3, 'transactions of 128, 128 and 44')
  assert.equal(app.collab.documents.get('chunks').getText('text').toString(), doc.getText('text').toString())
})

test('an update a client sends just before it closes the document is stored, though its leaving unloads the document before the turn ends', { timeout: 30_000 }, async t => {
  const path = join(tempDir(t), 'collab.db')
  const unloaded = deferred()
  const { url, app } = await startCollabServer(t, {
    extensions: [sqlite({ path })],
    afterUnloadDocument ({ documentName }) { if (documentName === 'leaving') unloaded.resolve() }
  })
  const client = await syncedClient(t, url, 'leaving')
  // The update and Hocuspocus's Close (type 7) in one write, as a provider's destroy() sends them.
  const tcp = client.socket._socket
  tcp.cork()
  client.send(hpUpdate('leaving', textUpdate('last words')))
  client.send(hp('leaving', 7))
  tcp.uncork()
  await unloaded.promise
  const direct = await app.collab.openDirectConnection('leaving')
  t.after(() => direct.disconnect())
  assert.equal(direct.document.getText('text').toString(), 'last words', 'loaded again from the store')
})

test('with beforeHandleMessage, a Stateless frame is handled after the updates that came before it', { timeout: 30_000 }, async t => {
  const seen = []
  const { url } = await startCollabServer(t, {
    async beforeHandleMessage () {},
    onStateless ({ document, payload }) { seen.push({ payload, text: document.getText('text').toString() }) }
  })
  const client = await syncedClient(t, url, 'ordered')
  const tcp = client.socket._socket
  tcp.cork()
  client.send(hpUpdate('ordered', textUpdate('before')))
  client.send(hp('ordered', 5, e => encoding.writeVarString(e, 'after the update')))
  tcp.uncork()
  await client.until(() => statuses(client, 'ordered').length === 2, { what: 'the update\'s SyncStatus' })
  assert.deepEqual(seen, [{ payload: 'after the update', text: 'before' }])
})
