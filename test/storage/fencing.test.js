// Fencing through the extension, on every store: a stale owner's writes fail with
// FST_COLLAB_STORAGE_FENCED and change nothing, across two real processes too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { storageExtension } from 'fastify-collab'
import { stores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'
import { change, counting, loaded, storeWorker, track, typedUpdates } from '../helpers/storage.js'

const fenced = (epoch, documents = ['doc']) => (error) => {
  assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
  assert.deepEqual(error.documents, documents)
  assert.equal(error.epoch, epoch)
  return true
}

for (const store of stores) {
  test(`${store.name}: two processes claim in turn; the store issues each a higher epoch; the stale one never writes or acknowledges again`, { skip: store.skip, timeout: 30_000 }, async (t) => {
    const backend = await store.open(t)
    const a = await storeWorker(t, backend.config)
    const b = await storeWorker(t, backend.config)

    assert.deepEqual((await a.call({ op: 'load', documentName: 'doc', claim: true })).result, { epoch: 1, text: '' })
    const typed = await a.call({ op: 'type', documentName: 'doc', count: 3, prefix: 'a' })
    assert.equal(typed.ok, true)
    const b1 = await b.call({ op: 'load', documentName: 'doc', claim: true })
    assert.deepEqual(b1.result, { epoch: 2, text: typed.result }, 'the new owner gets a higher epoch and loads what the old one had acknowledged')
    const before = await backend.tables()
    assert.deepEqual(before.fences, [{ document: 'doc', epoch: 2 }])

    const late = await a.call({ op: 'type', documentName: 'doc', count: 2, prefix: 'late' })
    assert.equal(late.ok, false, 'the stale owner acknowledges nothing')
    assert.ok(fenced(2)(late.error))
    const compacted = await a.call({ op: 'store', documentName: 'doc' })
    assert.equal(compacted.error.code, 'FST_COLLAB_STORAGE_COMPACT')
    assert.ok(fenced(2)(compacted.error.cause))
    assert.deepEqual(await backend.tables(), before, 'the stale owner changed nothing')

    // Once fenced, refused at once; it can still unload (no veto).
    assert.equal((await a.call({ op: 'type', documentName: 'doc', prefix: 'again' })).error.code, 'FST_COLLAB_STORAGE_FENCED')
    assert.equal((await a.call({ op: 'unload', documentName: 'doc' })).ok, true)

    // The new owner goes on; a later claim by the first process gets epoch 3 and sees everything it wrote.
    const written = await b.call({ op: 'type', documentName: 'doc', count: 2, prefix: 'b' })
    assert.equal(written.ok, true)
    assert.equal((await b.call({ op: 'store', documentName: 'doc' })).ok, true)
    assert.deepEqual((await a.call({ op: 'load', documentName: 'doc', claim: true })).result, { epoch: 3, text: written.result })
    assert.equal((await b.call({ op: 'type', documentName: 'doc', prefix: 'b-stale' })).error.code, 'FST_COLLAB_STORAGE_FENCED')
    await Promise.all([a.call({ op: 'destroy' }), b.call({ op: 'destroy' })])
  })

  test(`${store.name}: two processes that share a log without fencing: the second writer of a seq is refused with a coded error, never ignored`, { skip: store.skip, timeout: 30_000 }, async (t) => {
    const backend = await store.open(t)
    const a = await storeWorker(t, backend.config)
    const b = await storeWorker(t, backend.config)
    // One instance each, no scale-out: both count from the same stored seq.
    await a.call({ op: 'load', documentName: 'doc' })
    await b.call({ op: 'load', documentName: 'doc' })
    assert.equal((await a.call({ op: 'type', documentName: 'doc', count: 2, prefix: 'a' })).ok, true)
    const collided = await b.call({ op: 'type', documentName: 'doc', count: 2, prefix: 'b' })
    assert.equal(collided.ok, false, 'the colliding writes are not acknowledged')
    assert.equal(collided.error.code, 'FST_COLLAB_STORAGE_CONFLICT')
    assert.deepEqual(collided.error.documents, ['doc'])
    assert.deepEqual(collided.error.seqs, [1])
    assert.equal((await b.call({ op: 'type', documentName: 'doc', prefix: 'b-again' })).error.code, 'FST_COLLAB_STORAGE_CONFLICT', 'and that load never writes again')
    const { updates } = await backend.tables()
    assert.equal(updates.length, 2, "only a's two updates are stored")
    await Promise.all([a.call({ op: 'destroy' }), b.call({ op: 'destroy' })])
  })

  test(`${store.name}: in one group commit, a fenced document's changes are rejected and the others' written at once`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const capture = captureLog()
    const storage = counting(backend.storage())
    const stale = storageExtension(storage, { log: capture.log })
    const owner = backend.extension()
    t.after(() => Promise.all([stale.onDestroy(), owner.onDestroy()]))
    const x = await loaded(stale, 'x', await stale.claim('x'))
    const y = await loaded(stale, 'y', await stale.claim('y'))
    await loaded(owner, 'x', await owner.claim('x'))

    const xs = typedUpdates(3, 'x').updates.map((update) => stale.onChange(change('x', x, update)))
    const ys = typedUpdates(3, 'y').updates.map((update) => stale.onChange(change('y', y, update)))
    const xStates = xs.map(track)
    await Promise.all(ys)
    for (const ack of xs) await assert.rejects(ack, fenced(2, ['x']))
    assert.ok(xStates.every((state) => state.settled))
    assert.deepEqual(storage.appends, [6, 3], 'the batch, then at once the rest without x')
    assert.equal(capture.lines.length, 0, 'a fence is not a failure to retry: nothing logged, no backoff')
    const tables = await backend.tables()
    assert.deepEqual(tables.updates.map((row) => [row.document, row.seq]), [['y', 1], ['y', 2], ['y', 3]])

    // Fenced: later changes are refused without a storage call, and the unload is not vetoed.
    await assert.rejects(stale.onChange(change('x', x, typedUpdates(1, 'z').updates[0])), fenced(2, ['x']))
    assert.deepEqual(storage.appends, [6, 3])
    await stale.beforeUnloadDocument({ documentName: 'x', document: x })
    await stale.afterUnloadDocument({ documentName: 'x', document: x })
    assert.deepEqual(storage.compactions, [])

    // Loaded again under a newer claim, the log continues after what the store holds.
    const again = await loaded(stale, 'x', await stale.claim('x'))
    await stale.onChange(change('x', again, typedUpdates(1, 'new').updates[0]))
    assert.deepEqual((await backend.tables()).updates.filter((row) => row.document === 'x').map((row) => row.seq), [1])
  })

  test(`${store.name}: the extension fences; a load with a bad epoch, or a store claim that issues none, throws a coded error`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const extension = backend.extension()
    t.after(() => extension.onDestroy())
    assert.equal(extension.fencing, true)
    for (const epoch of [0, -1, 1.5, Number.NaN, '2']) {
      await assert.rejects(extension.onLoadDocument({ documentName: 'doc', document: new Y.Doc(), epoch }), { code: 'FST_COLLAB_STORAGE_EPOCH' }, String(epoch))
    }
    assert.deepEqual((await backend.tables()).fences, [])

    // A store written for the earlier contract, claim(documentName, epoch) returning nothing, is refused.
    const storage = backend.storage()
    const outdated = storageExtension({ ...counting(storage), claim () {} })
    t.after(() => outdated.onDestroy())
    await assert.rejects(outdated.claim('doc'), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_LOAD')
      assert.equal(error.cause.code, 'FST_COLLAB_STORAGE_CLAIM')
      return true
    })
  })
}

test('a storage without claim: fencing is false, and a claim or a load with an epoch fails loudly instead of ignoring it', async () => {
  const calls = []
  const storage = {
    load (name) { calls.push('load'); return { snapshot: null, updates: [], seq: 0 } },
    append () {},
    compact () {},
    close () {}
  }
  const extension = storageExtension(storage)
  assert.equal(extension.fencing, false)
  await assert.rejects(extension.onLoadDocument({ documentName: 'doc', document: new Y.Doc(), epoch: 1 }), { code: 'FST_COLLAB_STORAGE_UNFENCED' })
  await assert.rejects(extension.claim('doc'), { code: 'FST_COLLAB_STORAGE_UNFENCED' })
  assert.deepEqual(calls, [], 'nothing was loaded')
  await extension.onLoadDocument({ documentName: 'doc', document: new Y.Doc() })
  assert.deepEqual(calls, ['load'], 'without an epoch nothing changes')
  await extension.onDestroy()
})
