// The store under the real plugin with real providers, on every store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { acknowledged, startCollabServer, synced } from '../helpers/server.js'
import { deferred, untilDocs, waitFor, when } from '../helpers/wait.js'
import { stores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'

for (const store of stores) {
  test(`${store.name}: Hocuspocus edits are in the log when acknowledged, and a restarted server loads them`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = await startCollabServer(t, { extensions: [backend.extension()] })
    const writer = first.hocus('notes')
    await synced(writer)
    const text = writer.document.getText('text')
    for (let i = 0; i < 20; i++) text.insert(text.length, `line ${i}\n`)
    await acknowledged(writer)
    const expected = text.toString()
    const onDisk = new Y.Doc()
    for (const row of (await backend.tables()).updates) Y.applyUpdate(onDisk, row.data)
    assert.equal(onDisk.getText('text').toString(), expected, 'in the log by the time the client saw SyncStatus')
    first.drop(writer)
    await first.app.close()

    const second = await startCollabServer(t, { extensions: [backend.extension()] })
    const reader = second.hocus('notes')
    await synced(reader)
    assert.equal(reader.document.getText('text').toString(), expected)
  })

  test(`${store.name}: y-websocket edits survive a restart; the last disconnect compacts the log into the snapshot`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = await startCollabServer(t, { extensions: [backend.extension()] })
    const a = first.yws('room/α')
    const b = first.yws('room/α')
    await Promise.all([synced(a), synced(b)])
    a.doc.getText('text').insert(0, 'from a. ')
    b.doc.getText('text').insert(0, 'from b. ')
    const converged = () => a.doc.getText('text').toString() === b.doc.getText('text').toString() && a.doc.getText('text').length === 16
    await untilDocs([a.doc, b.doc], converged)
    const expected = a.doc.getText('text').toString()
    first.drop(a)
    first.drop(b)
    await first.app.close()
    const tables = (await backend.tables())
    assert.deepEqual(tables.updates, [], 'compacted on unload')
    assert.deepEqual(tables.snapshots.map((row) => row.document), ['room/α'])

    const second = await startCollabServer(t, { extensions: [backend.extension()] })
    const c = second.yws('room/α')
    await synced(c)
    assert.equal(c.doc.getText('text').toString(), expected)
  })

  test(`${store.name}: while the store is locked the acknowledgement waits and a coded error goes to the app log; it comes once the lock goes`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const capture = captureLog()
    const server = await startCollabServer(t, { extensions: [backend.extension({ ...backend.lockOptions, retry: { initialDelay: 5, maxDelay: 20 } })] }, { fastify: { logger: capture.logger } })
    const writer = server.hocus('locked')
    await synced(writer)
    const lock = await backend.lock()
    const failure = when(capture.events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_STORAGE_APPEND', what: 'a logged append failure' })
    writer.document.getText('text').insert(0, 'kept in memory')
    const [line] = await failure
    assert.match(line.causeCode, backend.lockedCode)
    await when(capture.events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_STORAGE_APPEND', what: 'a second attempt' })
    assert.ok(writer.unsyncedChanges > 0, 'no SyncStatus yet')
    await lock.release()
    await acknowledged(writer)
    assert.equal((await backend.tables()).updates.length, 1)
  })

  test(`${store.name}: a document unloaded and loaded again in the same process continues its log after the snapshot`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await startCollabServer(t, { extensions: [backend.extension()] })
    const first = server.hocus('again')
    await synced(first)
    first.document.getText('text').insert(0, 'one ')
    await acknowledged(first)
    server.drop(first)
    await waitFor(() => server.app.collab.getDocumentsCount() === 0, { what: 'the document to unload' })
    assert.deepEqual((await backend.tables()).snapshots.map((row) => row.seq), [1])

    const second = server.hocus('again')
    await synced(second)
    assert.equal(second.document.getText('text').toString(), 'one ')
    second.document.getText('text').insert(4, 'two')
    await acknowledged(second)
    assert.deepEqual((await backend.tables()).updates.map((row) => row.seq), [2])
    const expected = second.document.getText('text').toString()
    server.drop(second)
    await server.app.close()

    const restarted = await startCollabServer(t, { extensions: [backend.extension()] })
    const third = restarted.hocus('again')
    await synced(third)
    assert.equal(third.document.getText('text').toString(), expected)
  })
}

for (const store of stores) {
  test(`${store.name}: a slow afterUnloadDocument in another extension while the document is loaded again: the store keeps the new load's state, every edit is stored, the document unloads`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const unloading = []
    const unloaded = []
    // An audit log or a webhook, listed before the store: its afterUnloadDocument awaits a slow call.
    const webhook = {
      priority: 200,
      async afterUnloadDocument () {
        const call = deferred()
        unloading.push(call)
        await call.promise
      }
    }
    // Listed after the store: tells when a chain of afterUnloadDocument hooks has ended.
    const last = { priority: 0, afterUnloadDocument () { unloaded.push(true) } }
    const server = await startCollabServer(t, { extensions: [webhook, backend.extension(), last] })
    const first = server.yws('reloaded')
    await synced(first)
    first.doc.getText('text').insert(0, 'first ')
    await waitFor(() => server.app.collab.documents.get('reloaded')?.getText('text').length === 6, { what: 'the first edit on the server' })
    server.drop(first)
    await waitFor(() => unloading.length === 1, { what: 'the first load to unload' })

    // Loaded again while the first load's afterUnloadDocument chain still runs; that chain ends before the
    // second load writes anything.
    const second = server.yws('reloaded')
    await synced(second)
    unloading[0].resolve()
    await waitFor(() => unloaded.length === 1, { what: 'the first load\'s afterUnloadDocument chain to end' })
    second.doc.getText('text').insert(6, 'second')
    await waitFor(() => server.app.collab.documents.get('reloaded')?.getText('text').toString() === 'first second', { what: 'the second edit on the server' })
    server.drop(second)
    await waitFor(() => unloading.length === 2, { what: 'the second load to unload' })
    unloading[1].resolve()
    await server.app.close()

    const restarted = await startCollabServer(t, { extensions: [backend.extension()] })
    const reader = restarted.yws('reloaded')
    await synced(reader)
    assert.equal(reader.doc.getText('text').toString(), 'first second', 'the second load\'s edit was stored')
  })
}

// What the store holds, read as a fresh load would: the snapshot, then the log after it.
async function readStored (backend, documentName) {
  const { snapshots, updates } = await backend.tables()
  const doc = new Y.Doc()
  const snapshot = snapshots.find((row) => row.document === documentName)
  if (snapshot !== undefined) Y.applyUpdate(doc, snapshot.state)
  for (const row of updates) if (row.document === documentName && row.seq > (snapshot?.seq ?? 0)) Y.applyUpdate(doc, row.data)
  return doc
}

for (const store of stores) {
  for (const priority of [50, 200]) {
    test(`${store.name}: a template that a load hook ${priority < 100 ? 'after' : 'before'} the store puts into a new document is stored with the load, so edits on it are never stored without it`, { skip: store.skip }, async (t) => {
      const backend = await store.open(t)
      const template = {
        priority,
        onLoadDocument ({ document }) {
          if (document.getText('text').length === 0) document.getText('text').insert(0, 'Title\n')
        }
      }
      const server = await startCollabServer(t, { extensions: [backend.extension(), template] })
      const writer = server.hocus('templated')
      await synced(writer)
      const text = writer.document.getText('text')
      text.insert(text.length, 'typed on the template')
      await acknowledged(writer)

      // Read while the server still runs: no unload compaction has stored the document's whole state.
      const stored = await readStored(backend, 'templated')
      assert.equal(stored.store.pendingStructs, null, 'every stored edit has what it builds on')
      assert.equal(stored.getText('text').toString(), 'Title\ntyped on the template')

      // A template ahead of the store cannot tell a new document from a stored one: only the other one is restarted.
      if (priority > 100) return
      // A restart loads the template from the store and does not add it a second time.
      server.drop(writer)
      await server.app.close()
      const restarted = await startCollabServer(t, { extensions: [backend.extension(), template] })
      const reader = restarted.hocus('templated')
      await synced(reader)
      assert.equal(reader.document.getText('text').toString(), 'Title\ntyped on the template')
    })
  }
}
