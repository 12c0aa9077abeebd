// Document history under the real plugin, on every store, with real providers: versions made by time (a fake
// clock) and by the last client leaving, made on demand, listed, read, compared and restored.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { createVersions, storageExtension } from 'fastify-collab'
import { acknowledged, startCollabServer, synced } from '../helpers/server.js'
import { untilDocs, waitFor, when } from '../helpers/wait.js'
import { stores } from '../helpers/stores.js'
import { fakeClock } from '../helpers/clock.js'
import { captureLog } from '../helpers/log.js'
import { readDelta } from '../helpers/delta.js'

const MINUTE = 60_000

/**
 * A collab server whose documents are kept in `backend`'s store with history on a fake clock. Each client
 * names its user in the query (`?user=`), which becomes `context.user`: the default author.
 */
async function historyServer (t, backend, options = {}, serverOptions = {}) {
  const storage = backend.storage()
  const clock = fakeClock()
  const history = createVersions({ storage, clock, ...options })
  const server = await startCollabServer(t, { extensions: [storageExtension(storage), history.extension] }, {
    context: (request) => request.query.user === undefined ? {} : { user: request.query.user },
    ...serverOptions
  })
  const versions = history.bind(server.app.collab)
  return { ...server, storage, clock, history, versions }
}

/** A y-websocket client of `server` for `user`. */
function client (server, room, user) {
  return server.yws(room, { params: { user } })
}

/** The document as a store load gives it, on a connection of its own. */
async function stored (backend, name) {
  const storage = backend.storage()
  try {
    const { snapshot, updates } = await storage.load(name)
    const doc = new Y.Doc()
    if (snapshot !== null) Y.applyUpdate(doc, snapshot)
    for (const update of updates) Y.applyUpdate(doc, update)
    return doc
  } finally {
    await storage.close()
  }
}

/** Waits (polling: nothing announces a store write) until `name` has `count` versions. */
async function untilVersions (server, name, count) {
  let list = []
  await waitFor(async () => (list = await server.versions.list(name)).length === count, { what: `${count} versions of "${name}"` })
  return list
}

for (const store of stores) {
  test(`${store.name}: a document being edited gets a version every interval (fake clock), with the authors since the previous one; none without edits, no timer left behind`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await historyServer(t, backend)
    const start = server.clock.now()
    const ann = client(server, 'notes', 'ann')
    const bob = client(server, 'notes', 'bob')
    await Promise.all([synced(ann), synced(bob)])
    assert.equal(server.clock.pending, 0, 'no timer before a change')

    ann.doc.getText('text').insert(0, 'Hello')
    await untilDocs([bob.doc], () => bob.doc.getText('text').toString() === 'Hello')
    await waitFor(() => server.clock.pending === 1, { what: 'the interval timer' })
    server.clock.advance(9 * MINUTE)
    bob.doc.getText('text').insert(5, ', world')
    await untilDocs([ann.doc], () => ann.doc.getText('text').length === 12)
    assert.deepEqual(await server.versions.list('notes'), [], 'not yet')
    server.clock.advance(MINUTE)
    const [first] = await untilVersions(server, 'notes', 1)
    assert.equal(first.reason, 'interval')
    assert.equal(first.createdAt, start + 10 * MINUTE, '10 minutes after the first change')
    assert.deepEqual(first.authors, ['ann', 'bob'])
    assert.equal(first.label, null)
    const doc = await server.versions.get('notes', first.id)
    assert.equal(doc.getText('text').toString(), 'Hello, world')

    // No edit since: no timer, no version, however long.
    assert.equal(server.clock.pending, 0)
    server.clock.advance(60 * MINUTE)
    assert.equal((await server.versions.list('notes')).length, 1)

    // The next edit starts the next interval; only its author is named.
    bob.doc.getText('text').insert(0, '> ')
    await waitFor(() => server.clock.pending === 1, { what: 'the next interval timer' })
    server.clock.advance(10 * MINUTE)
    const [second] = await untilVersions(server, 'notes', 2)
    assert.deepEqual(second.authors, ['bob'])
    assert.equal(second.createdAt, start + 80 * MINUTE)
    assert.ok(second.size > 0)
  })

  test(`${store.name}: the last client leaving after changes makes a version (real providers); leaving without changes does not; the document unloads with nothing left behind`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await historyServer(t, backend)
    const ann = client(server, 'leave', 'ann')
    const bob = server.hocus('leave', { url: `${server.url}?user=bob` })
    await Promise.all([synced(ann), synced(bob)])
    ann.doc.getText('text').insert(0, 'from ann ')
    bob.document.getText('text').insert(0, 'from bob ')
    await acknowledged(bob)
    await untilDocs([ann.doc], () => ann.doc.getText('text').length === 18)
    server.drop(ann)
    await waitFor(() => server.app.collab.getConnectionsCount() === 1, { what: 'ann to leave' })
    assert.deepEqual(await server.versions.list('leave'), [], 'a client is left')
    server.drop(bob)
    const [version] = await untilVersions(server, 'leave', 1)
    assert.equal(version.reason, 'disconnect')
    assert.deepEqual(version.authors, ['ann', 'bob'])
    await waitFor(() => server.app.collab.getDocumentsCount() === 0, { what: 'the document to unload' })
    assert.equal(server.clock.pending, 0, 'the interval timer went with the load')
    const doc = await server.versions.get('leave', version.id)
    assert.equal(doc.getText('text').toString(), (await stored(backend, 'leave')).getText('text').toString())

    // Back without editing, and away again: no new version.
    const carol = client(server, 'leave', 'carol')
    await synced(carol)
    server.drop(carol)
    await waitFor(() => server.app.collab.getDocumentsCount() === 0, { what: 'the document to unload again' })
    assert.equal((await server.versions.list('leave')).length, 1)
  })

  test(`${store.name}: versions.create names a version; list pages newest first; get gives the state; diff gives inserted and deleted text of Y.Text and Y.XmlFragment roots, against a version or the current document`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await historyServer(t, backend)
    const { versions } = server
    const ann = client(server, 'paper', 'ann')
    await synced(ann)
    const text = ann.doc.getText('text')
    const xml = ann.doc.getXmlFragment('prosemirror')
    const meta = ann.doc.getMap('meta')
    ann.doc.transact(() => {
      text.insert(0, 'The quick brown fox')
      const paragraph = new Y.XmlElement('paragraph')
      paragraph.insert(0, [new Y.XmlText('First paragraph')])
      xml.insert(0, [paragraph])
      meta.set('title', 'Draft')
    })
    await waitFor(() => server.app.collab.documents.get('paper')?.getText('text').length === 19, { what: 'the edit on the server' })
    const v1 = await versions.create('paper', { label: 'first draft' })
    assert.equal(v1.label, 'first draft')
    assert.equal(v1.reason, 'manual')
    assert.deepEqual(v1.authors, ['ann'])

    ann.doc.transact(() => {
      text.delete(4, 6) // "quick "
      text.insert(text.length, ' jumps')
      const second = new Y.XmlElement('paragraph')
      second.insert(0, [new Y.XmlText('Second')])
      xml.insert(1, [second])
    })
    await waitFor(() => server.app.collab.documents.get('paper')?.getText('text').toString() === 'The brown fox jumps', { what: 'the second edit on the server' })
    const v2 = await versions.create('paper')
    const v3 = await versions.create('paper', { label: null })
    assert.deepEqual(v3.authors, [], 'nobody changed it since v2')

    const list = await versions.list('paper')
    assert.deepEqual(list.map((v) => v.id), [v3.id, v2.id, v1.id])
    assert.deepEqual(list[2], v1)
    assert.deepEqual((await versions.list('paper', { limit: 1, before: v2.id })).map((v) => v.id), [v1.id])

    const old = await versions.get('paper', v1.id)
    assert.equal(old.getText('text').toString(), 'The quick brown fox')
    assert.equal(old.getMap('meta').get('title'), 'Draft')
    assert.equal(old.getXmlFragment('prosemirror').toString(), '<paragraph>First paragraph</paragraph>')

    const diff = await versions.diff('paper', v1.id, v2.id)
    const byName = Object.fromEntries(diff.roots.map((root) => [root.name, root]))
    assert.deepEqual(byName.text.changes, [
      { type: 'equal', text: 'The ' },
      { type: 'delete', text: 'quick ' },
      { type: 'equal', text: 'brown fox' },
      { type: 'insert', text: ' jumps' }
    ])
    assert.equal(byName.text.inserted, 6)
    assert.equal(byName.text.deleted, 6)
    assert.equal(byName.text.granularity, 'char')
    assert.equal(byName.prosemirror.kind, 'xml')
    assert.deepEqual(byName.prosemirror.changes, [{ type: 'equal', text: 'First paragraph' }, { type: 'insert', text: '\nSecond' }])
    assert.deepEqual(byName.meta, { name: 'meta', kind: 'map', changed: false })

    meta.set('title', 'Final')
    await waitFor(() => server.app.collab.documents.get('paper')?.getMap('meta').get('title') === 'Final', { what: 'the title on the server' })
    const current = await versions.diff('paper', v3.id, 'current')
    assert.equal(current.to, 'current')
    assert.deepEqual(current.roots.find((root) => root.name === 'meta'), { name: 'meta', kind: 'map', changed: true })
    assert.deepEqual(current.roots.find((root) => root.name === 'text').changes, [{ type: 'equal', text: 'The brown fox jumps' }])

    await assert.rejects(versions.get('paper', 9999), { code: 'FST_COLLAB_HISTORY_NOT_FOUND', statusCode: 404 })
    await assert.rejects(versions.diff('paper', v1.id, 'nope'), { code: 'FST_COLLAB_HISTORY_NOT_FOUND' })
    await assert.rejects(versions.get('other', v1.id), { code: 'FST_COLLAB_HISTORY_NOT_FOUND' }, 'ids belong to their document')
    await assert.rejects(versions.list('paper', { limit: 0 }), { code: 'FST_COLLAB_INVALID_OPTION' })
    await assert.rejects(versions.create('paper', { label: 42 }), { code: 'FST_COLLAB_INVALID_OPTION' })
    assert.deepEqual((await versions.get('paper', String(v1.id))).getText('text').toString(), 'The quick brown fox', 'an id from a URL')
  })

  test(`${store.name}: restore while clients are connected: one change every client converges on, stored, the state before kept as a version, untouched text keeping its identity`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await historyServer(t, backend)
    const { versions } = server
    const ann = client(server, 'restore', 'ann')
    const bob = server.hocus('restore', { url: `${server.url}?user=bob` })
    await Promise.all([synced(ann), synced(bob)])
    const text = ann.doc.getText('text')
    ann.doc.transact(() => {
      text.insert(0, 'Chapter one. It was a dark night.')
      text.format(0, 7, { bold: true })
      const items = new Y.Array()
      items.insert(0, [1, 2, 3])
      ann.doc.getMap('lists').set('numbers', items)
      ann.doc.getMap('lists').set('gone later', 'yes')
    })
    await untilDocs([bob.document], () => bob.document.getText('text').length === 33)
    const v1 = await versions.create('restore', { label: 'before the rewrite' })
    const before = Y.encodeStateAsUpdate(await versions.get('restore', v1.id))

    // A cursor in "dark night", text both states share.
    const anchor = Y.createRelativePositionFromTypeIndex(bob.document.getText('text'), 22)
    bob.document.transact(() => {
      const bobText = bob.document.getText('text')
      bobText.insert(13, 'Suddenly, ')
      bobText.delete(bobText.length - 1, 1)
      bobText.insert(bobText.length, '!')
      bobText.format(0, 7, { bold: null, italic: true })
      bob.document.getMap('lists').get('numbers').push([4])
      bob.document.getMap('lists').delete('gone later')
      bob.document.getMap('lists').set('new', { a: 1 })
    })
    await acknowledged(bob)
    await untilDocs([ann.doc], () => ann.doc.getMap('lists').has('new') && text.toString().endsWith('!'))
    const edited = bob.document.getText('text').toString()

    const result = await versions.restore('restore', v1.id, { context: { user: 'admin' } })
    assert.equal(result.restored.id, v1.id)
    assert.equal(result.saved.reason, 'restore')
    assert.deepEqual(result.saved.authors, ['bob'])
    assert.equal((await versions.get('restore', result.saved.id)).getText('text').toString(), edited, 'the state before is a version')
    assert.deepEqual(result.roots.map(({ name, kind, action }) => [name, kind, action]).sort(), [['lists', 'map', 'replaced'], ['text', 'text', 'diff']])

    const expected = new Y.Doc()
    Y.applyUpdate(expected, before)
    const content = (doc) => JSON.stringify({ text: readDelta(doc.getText('text')), lists: doc.getMap('lists').toJSON() })
    await untilDocs([ann.doc, bob.document], () => content(ann.doc) === content(expected) && content(bob.document) === content(expected), { what: 'both clients on the restored content' })
    assert.equal(text.toString(), 'Chapter one. It was a dark night.')
    assert.deepEqual(readDelta(text)[0], { insert: 'Chapter', attributes: { bold: true } })

    // The cursor still points into "dark night": the text both states share kept its identity.
    const resolved = Y.createAbsolutePositionFromRelativePosition(anchor, bob.document)
    assert.equal(bob.document.getText('text').toString().slice(resolved.index, resolved.index + 4), 'dark')

    // The restore went through the hooks as a change of 'admin': the next version names them.
    server.drop(ann)
    server.drop(bob)
    const [after] = await untilVersions(server, 'restore', 3)
    assert.equal(after.reason, 'disconnect')
    assert.deepEqual(after.authors, ['admin'])

    // A fresh load from the store equals the restored content.
    await waitFor(() => server.app.collab.getDocumentsCount() === 0, { what: 'the document to unload' })
    assert.equal(content(await stored(backend, 'restore')), content(expected))
    await assert.rejects(versions.restore('restore', 12345), { code: 'FST_COLLAB_HISTORY_NOT_FOUND' })
  })

  test(`${store.name}: the server closing with unversioned changes writes their version before the store closes`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const server = await historyServer(t, backend)
    const ann = server.hocus('closing', { url: `${server.url}?user=ann` })
    await synced(ann)
    ann.document.getText('text').insert(0, 'unsaved work')
    await acknowledged(ann)
    await server.app.close()
    assert.equal(server.clock.pending, 0, 'no timer left')
    const storage = backend.storage()
    t.after(() => storage.close())
    const [version] = await storage.listVersions('closing', { limit: 10 })
    assert.equal(version?.reason, 'disconnect')
    assert.deepEqual(version.authors, ['ann'])
  })

  test(`${store.name}: a fenced load writes no version: its automatic version is logged as FST_COLLAB_HISTORY_WRITE (cause FST_COLLAB_STORAGE_FENCED) and not retried`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    const other = backend.storage()
    t.after(() => Promise.all([storage.close(), other.close()]))
    const capture = captureLog({ level: 'warn' })
    const clock = fakeClock()
    const { extension } = createVersions({ storage, clock, log: capture.log })
    // This "instance" claims and loads the document; the hooks are called as the core calls them with scale-out.
    const epoch = await storage.claim('fenced')
    const document = new Y.Doc()
    await extension.afterLoadDocument({ documentName: 'fenced', document, epoch, instance: { log: capture.log }, context: {} })
    document.getText('text').insert(0, 'stale')
    await extension.onChange({ documentName: 'fenced', document, context: { user: 'ann' } })
    // Another "instance" claims it.
    assert.equal(await other.claim('fenced'), epoch + 1)
    const logged = when(capture.events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_HISTORY_WRITE', what: 'the refused version in the log' })
    await extension.onDisconnect({ documentName: 'fenced', document, clientsCount: 0, context: {} })
    const [line] = await logged
    assert.equal(line.level, 40, 'a warning: this load no longer owns the document')
    assert.match(line.err.message, /fenced/)
    assert.deepEqual(await other.listVersions('fenced', { limit: 10 }), [])
    // No timer re-armed, nothing retried.
    assert.equal(clock.pending, 0)
    await extension.onChange({ documentName: 'fenced', document, context: { user: 'ann' } })
    assert.equal(clock.pending, 0)
    document.destroy()
    await extension.afterUnloadDocument({ documentName: 'fenced', document })
    await extension.onDestroy({})
    assert.deepEqual(await other.listVersions('fenced', { limit: 10 }), [])
  })
}

test('a store without the version calls: createVersions throws FST_COLLAB_HISTORY_UNSUPPORTED naming them', () => {
  const storage = { load: () => ({ snapshot: null, updates: [], seq: 0 }), append () {}, compact () {}, close () {}, getVersion () {} }
  assert.throws(() => createVersions({ storage }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_HISTORY_UNSUPPORTED')
    assert.match(error.message, /putVersion, listVersions, deleteVersions/)
    return true
  })
  assert.throws(() => createVersions({}), { code: 'FST_COLLAB_INVALID_OPTION' })
})

test('options are checked: FST_COLLAB_INVALID_OPTION', () => {
  const storage = { putVersion () {}, listVersions () {}, getVersion () {}, deleteVersions () {} }
  for (const options of [{ interval: 0 }, { interval: 1.5 }, { retention: [{ olderThan: -1, keepOnePer: 1 }] }, { author: 'ann' }, { clock: {} }, { diffTimeout: -1 }, { onLastDisconnect: 'yes' }]) {
    assert.throws(() => createVersions({ storage, ...options }), { code: 'FST_COLLAB_INVALID_OPTION' }, JSON.stringify(options))
  }
  assert.equal(createVersions({ storage, interval: Infinity, retention: false }).extension.priority, 200)
})

test('versions.create on a server whose extensions lack the history: FST_COLLAB_HISTORY_NOT_REGISTERED', { skip: stores[0].skip }, async (t) => {
  const backend = await stores[0].open(t)
  const storage = backend.storage()
  const history = createVersions({ storage })
  const server = await startCollabServer(t, { extensions: [storageExtension(storage)] })
  await assert.rejects(history.bind(server.app.collab).create('doc'), { code: 'FST_COLLAB_HISTORY_NOT_REGISTERED' })
})

test('the plugin\'s history option: fastify.collab.versions over the store of the one storage extension; without the option, no versions; an ambiguous store is refused', { skip: stores[0].skip }, async (t) => {
  const backend = await stores[0].open(t)
  const extension = backend.extension()
  const server = await startCollabServer(t, { extensions: [extension], history: {} })
  const writer = server.yws('plugin-history')
  await synced(writer)
  writer.doc.getText('text').insert(0, 'kept')
  await waitFor(() => server.app.collab.documents.get('plugin-history')?.getText('text').length === 4, { what: 'the edit on the server' })
  const made = await server.app.collab.versions.create('plugin-history', { label: 'first' })
  const [listed] = await server.app.collab.versions.list('plugin-history')
  assert.equal(listed.id, made.id)
  assert.equal((await server.app.collab.versions.get('plugin-history', made.id)).getText('text').toString(), 'kept')

  const plain = await startCollabServer(t, { extensions: [backend.extension()] })
  assert.equal(plain.app.collab.versions, undefined)
  await assert.rejects(startCollabServer(t, { extensions: [backend.extension(), backend.extension()], history: {} }), { code: 'FST_COLLAB_HISTORY_NO_STORE' })
})
