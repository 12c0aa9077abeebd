// storageExtension over every store: group commit, load, compaction, misuse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { storageExtension } from 'fastify-collab'
import { waitFor } from '../helpers/wait.js'
import { stores } from '../helpers/stores.js'
import { change, counting, typedUpdates } from '../helpers/storage.js'

for (const store of stores) {
  test(`${store.name}: the updates of one turn, across documents, commit in one append; each onChange resolves after it`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = counting(backend.storage())
    const extension = storageExtension(storage)
    t.after(() => extension.onDestroy())
    const docs = { a: new Y.Doc(), b: new Y.Doc() }
    await extension.onLoadDocument({ documentName: 'a', document: docs.a })
    await extension.onLoadDocument({ documentName: 'b', document: docs.b })
    const a = typedUpdates(60, 'a').updates
    const b = typedUpdates(40, 'b').updates

    const acks = []
    for (let i = 0; i < 60; i++) {
      acks.push(extension.onChange(change('a', docs.a, a[i])))
      if (i < 40) acks.push(extension.onChange(change('b', docs.b, b[i])))
    }
    assert.deepEqual(storage.appends, [], 'nothing is written before the turn ends')
    let settled = 0
    for (const ack of acks) ack.then(() => settled++)
    await acks[0]
    assert.equal((await backend.tables()).updates.length, 100, 'the first acknowledgement comes after the whole batch committed')
    await Promise.all(acks)
    assert.equal(settled, 100)
    assert.deepEqual(storage.appends, [100])

    // One update per turn: one append each.
    for (let i = 0; i < 3; i++) await extension.onChange(change('a', docs.a, typedUpdates(1, `x${i}`).updates[0]))
    assert.deepEqual(storage.appends, [100, 1, 1, 1])
    const rows = (await backend.tables()).updates.filter((row) => row.document === 'a')
    assert.deepEqual(rows.map((row) => row.seq), Array.from({ length: 63 }, (_, i) => i + 1), 'seqs have no gaps')
  })

  test(`${store.name}: a new process loads the snapshot plus the log into an equal document`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = backend.extension()
    const live = new Y.Doc()
    await first.onLoadDocument({ documentName: 'doc', document: live })
    const { updates, doc: source } = typedUpdates(30)
    await Promise.all(updates.slice(0, 20).map((update) => first.onChange(change('doc', live, update))))
    await first.onStoreDocument({ documentName: 'doc', document: live })
    for (const update of updates.slice(20)) await first.onChange(change('doc', live, update))
    await first.onDestroy()

    const tables = await backend.tables()
    assert.deepEqual(tables.snapshots.map((row) => [row.document, row.seq]), [['doc', 20]])
    assert.deepEqual(tables.updates.map((row) => row.seq), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30])

    const second = backend.extension()
    t.after(() => second.onDestroy())
    const loaded = new Y.Doc()
    await second.onLoadDocument({ documentName: 'doc', document: loaded })
    assert.equal(loaded.getText('text').toString(), source.getText('text').toString())
    // Appends continue after the stored seq.
    await second.onChange(change('doc', loaded, typedUpdates(1, 'more').updates[0]))
    assert.equal((await backend.tables()).updates.at(-1).seq, 31)
  })

  test(`${store.name}: storing compacts the whole log; storing again without changes writes nothing`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = counting(backend.storage())
    const extension = storageExtension(storage)
    t.after(() => extension.onDestroy())
    const doc = new Y.Doc()
    await extension.onLoadDocument({ documentName: 'doc', document: doc })
    await Promise.all(typedUpdates(5).updates.map((update) => extension.onChange(change('doc', doc, update))))
    await extension.onStoreDocument({ documentName: 'doc', document: doc })
    await extension.onStoreDocument({ documentName: 'doc', document: doc })
    await extension.beforeUnloadDocument({ documentName: 'doc', document: doc })
    assert.deepEqual(storage.compactions, [5])
    const tables = await backend.tables()
    assert.equal(tables.updates.length, 0)
    const check = new Y.Doc()
    Y.applyUpdate(check, tables.snapshots[0].state)
    assert.equal(check.getText('text').toString(), doc.getText('text').toString())
  })

  test(`${store.name}: a document loaded with a log is compacted when it unloads`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = backend.extension()
    const doc = new Y.Doc()
    await first.onLoadDocument({ documentName: 'doc', document: doc })
    await Promise.all(typedUpdates(8).updates.map((update) => first.onChange(change('doc', doc, update))))
    await first.onDestroy()

    const second = backend.extension()
    t.after(() => second.onDestroy())
    const document = new Y.Doc()
    await second.onLoadDocument({ documentName: 'doc', document })
    await second.beforeUnloadDocument({ documentName: 'doc', document })
    await second.afterUnloadDocument({ documentName: 'doc', document })
    const tables = await backend.tables()
    assert.equal(tables.updates.length, 0)
    assert.deepEqual(tables.snapshots.map((row) => row.seq), [8])
  })

  test(`${store.name}: state is per load: an earlier load's late hooks touch nothing of a later load of the same name`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const extension = backend.extension()
    t.after(() => extension.onDestroy())
    const earlier = new Y.Doc()
    await extension.onLoadDocument({ documentName: 'doc', document: earlier })
    const [first, second] = typedUpdates(2).updates
    await extension.onChange(change('doc', earlier, first))
    await extension.beforeUnloadDocument({ documentName: 'doc', document: earlier })
    // Loaded again before the earlier load's afterUnloadDocument ran (another extension's awaited a webhook).
    const later = new Y.Doc()
    await extension.onLoadDocument({ documentName: 'doc', document: later })
    await extension.afterUnloadDocument({ documentName: 'doc', document: earlier })
    await extension.onChange(change('doc', later, second))
    await assert.rejects(extension.onChange(change('doc', earlier, typedUpdates(1, 'x').updates[0])), { code: 'FST_COLLAB_STORAGE_NOT_LOADED' },
      'the earlier load cannot write through the later one')
    await extension.onStoreDocument({ documentName: 'doc', document: later })
    const tables = await backend.tables()
    assert.deepEqual(tables.snapshots.map((row) => row.seq), [2], 'the later load stored its change after the earlier one')
  })

  test(`${store.name}: a log past maxLogUpdates or maxLogBytes is compacted without a store`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const byCount = backend.extension({ maxLogUpdates: 10 })
    t.after(() => byCount.onDestroy())
    const doc = new Y.Doc()
    await byCount.onLoadDocument({ documentName: 'count', document: doc })
    for (const update of typedUpdates(25).updates) await byCount.onChange(change('count', doc, update))
    await waitFor(async () => (await backend.tables()).snapshots.length === 1, { what: 'the size-bound compaction' })
    const count = await backend.tables()
    assert.ok(count.snapshots[0].seq >= 10)
    assert.ok(count.updates.every((row) => row.seq > count.snapshots[0].seq))

    // Acknowledgements past the bound while a size-triggered compaction is queued do not queue more of them.
    const storage = counting(backend.storage())
    const storm = storageExtension(storage, { maxLogUpdates: 10 })
    t.after(() => storm.onDestroy())
    const stormDoc = new Y.Doc()
    await storm.onLoadDocument({ documentName: 'storm', document: stormDoc })
    await Promise.all(typedUpdates(40).updates.map((update) => storm.onChange(change('storm', stormDoc, update))))
    await storm.onStoreDocument({ documentName: 'storm', document: stormDoc })
    assert.equal(storage.compactions.length, 1, 'one compaction for the 31 acknowledgements past the bound; the store then has nothing left to do')

    const byBytes = backend.extension({ maxLogBytes: 200 })
    t.after(() => byBytes.onDestroy())
    const other = new Y.Doc()
    await byBytes.onLoadDocument({ documentName: 'bytes', document: other })
    for (const update of typedUpdates(25).updates) await byBytes.onChange(change('bytes', other, update))
    await waitFor(async () => (await backend.tables()).snapshots.some((row) => row.document === 'bytes'), { what: 'the byte-bound compaction' })
  })

  test(`${store.name}: misuse rejects with coded errors`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const extension = backend.extension()
    const doc = new Y.Doc()
    await assert.rejects(extension.onChange(change('never-loaded', doc, typedUpdates(1).updates[0])), { code: 'FST_COLLAB_STORAGE_NOT_LOADED' })
    await extension.onLoadDocument({ documentName: 'doc', document: doc })
    await extension.onDestroy()
    await assert.rejects(extension.onChange(change('doc', doc, typedUpdates(1).updates[0])), { code: 'FST_COLLAB_STORAGE_CLOSED' })
    await assert.rejects(extension.onLoadDocument({ documentName: 'other', document: new Y.Doc() }), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_LOAD')
      assert.equal(error.cause.code, 'FST_COLLAB_STORAGE_CLOSED')
      return true
    })
  })

  test(`${store.name}: bad size bounds, batch bounds and retry delays throw a coded TypeError`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const bad = [
      { maxLogUpdates: 0 }, { maxLogBytes: -1 }, { maxLogUpdates: '10' }, { maxBatchUpdates: 0 }, { maxBatchBytes: Number.NaN },
      { retry: { initialDelay: Number.NaN } }, { retry: { maxDelay: 0 } }
    ]
    for (const options of bad) {
      const storage = backend.storage()
      assert.throws(() => storageExtension(storage, options), (error) => error instanceof TypeError && error.code === 'FST_COLLAB_INVALID_OPTION', JSON.stringify(options))
      await storage.close()
    }
  })
}
