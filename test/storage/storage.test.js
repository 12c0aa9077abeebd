// The CollabStorage calls themselves, on every store: what any implementation must do.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stores } from '../helpers/stores.js'

const bytes = (...values) => new Uint8Array(values)
const entry = (documentName, seq, update, epoch) => ({ documentName, seq, update, epoch })
const contents = (stored) => stored.updates.map((u) => [...u])

for (const store of stores) {
  test(`${store.name}: an unknown document loads empty`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    assert.deepEqual(await storage.load('nothing'), { snapshot: null, updates: [], seq: 0 })
  })

  test(`${store.name}: append writes entries of several documents in one call; load returns them in seq order`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    await storage.append([entry('a', 1, bytes(1)), entry('b', 1, bytes(9)), entry('a', 2, bytes(2, 2))])
    const a = await storage.load('a')
    assert.equal(a.snapshot, null)
    assert.deepEqual(contents(a), [[1], [2, 2]])
    assert.equal(a.seq, 2)
    assert.deepEqual(contents(await storage.load('b')), [[9]])
    assert.equal((await backend.tables()).updates.length, 3, 'committed, visible to another connection')
  })

  test(`${store.name}: an entry already stored is ignored, so a retried batch is harmless`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    await storage.append([entry('a', 1, bytes(1))])
    await storage.append([entry('a', 1, bytes(1)), entry('a', 2, bytes(2))])
    assert.deepEqual(contents(await storage.load('a')), [[1], [2]])
  })

  test(`${store.name}: compact replaces the snapshot and drops the log up to its seq; load gives snapshot plus the rest`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    await storage.append([1, 2, 3, 4].map((seq) => entry('a', seq, bytes(seq))))
    await storage.append([entry('b', 1, bytes(7))])
    await storage.compact('a', bytes(0xaa), 3)
    let a = await storage.load('a')
    assert.deepEqual([...a.snapshot], [0xaa])
    assert.deepEqual(contents(a), [[4]])
    assert.equal(a.seq, 4)
    assert.deepEqual((await backend.tables()).updates.map((r) => [r.document, r.seq]), [['a', 4], ['b', 1]], 'other documents untouched')

    await storage.compact('a', bytes(0xbb), 4)
    a = await storage.load('a')
    assert.deepEqual([...a.snapshot], [0xbb])
    assert.deepEqual(a.updates, [])
    assert.equal(a.seq, 4, 'the seq survives in the snapshot once the log is empty')

    // A late append of a seq the snapshot already covers is skipped on load.
    await storage.append([entry('a', 3, bytes(3))])
    assert.deepEqual((await storage.load('a')).updates, [])
  })

  test(`${store.name}: a closed storage refuses calls instead of reopening`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    await storage.close()
    await assert.rejects(async () => storage.load('a'), { code: 'FST_COLLAB_STORAGE_CLOSED' })
    await assert.rejects(async () => storage.append([entry('a', 1, bytes(1))]), { code: 'FST_COLLAB_STORAGE_CLOSED' })
    await assert.rejects(async () => storage.claim('a'), { code: 'FST_COLLAB_STORAGE_CLOSED' })
  })

  test(`${store.name}: each claim gets a higher epoch from the store, on any connection; the stale writer's append and compact fail, coded, and change nothing`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = backend.storage()
    const second = backend.storage()
    t.after(() => Promise.all([first.close(), second.close()]))

    assert.equal(await first.claim('doc'), 1, 'a first claim gets 1')
    await first.append([entry('doc', 1, bytes(1), 1), entry('doc', 2, bytes(2), 1)])
    assert.equal(await second.claim('doc'), 2, 'the next claim, on another connection, gets more')
    assert.equal(await second.claim('other-doc'), 1, 'epochs count per document')
    const before = await backend.tables()
    assert.deepEqual(before.fences, [{ document: 'doc', epoch: 2 }, { document: 'other-doc', epoch: 1 }])

    // The stale owner's batch also holds an unfenced document: nothing of it is written.
    const isFenced = (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
      assert.deepEqual(error.documents, ['doc'])
      assert.deepEqual(error.epochs, [2])
      assert.equal(error.epoch, 2)
      return true
    }
    await assert.rejects(async () => first.append([entry('other', 1, bytes(8)), entry('doc', 3, bytes(3), 1)]), isFenced)
    await assert.rejects(async () => first.compact('doc', bytes(0xee), 2, 1), isFenced)
    assert.deepEqual(await backend.tables(), before, 'the stale writes changed nothing')

    // The new owner writes, and so do writers that carry no epoch (one instance, no scale-out).
    await second.append([entry('doc', 3, bytes(3), 2)])
    await second.compact('doc', bytes(0xcc), 2, 2)
    await first.append([entry('other', 1, bytes(8))])
    const after = await backend.tables()
    assert.deepEqual(after.updates.map((r) => [r.document, r.seq]), [['doc', 3], ['other', 1]])
    assert.deepEqual(after.snapshots.map((r) => [r.document, r.seq, [...r.state]]), [['doc', 2, [0xcc]]])

    // A later claim by the first connection fences the second in turn.
    assert.equal(await first.claim('doc'), 3)
    await assert.rejects(async () => second.append([entry('doc', 4, bytes(4), 2)]), { code: 'FST_COLLAB_STORAGE_FENCED' })
    assert.deepEqual((await backend.tables()).fences.find((row) => row.document === 'doc'), { document: 'doc', epoch: 3 })
  })

  test(`${store.name}: a batch of several fenced documents names each with its recorded epoch`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const stale = backend.storage()
    const fresh = backend.storage()
    t.after(() => Promise.all([stale.close(), fresh.close()]))
    for (const name of ['a', 'b', 'c']) assert.equal(await stale.claim(name), 1)
    await fresh.claim('a')
    await fresh.claim('b')
    await fresh.claim('b')
    await assert.rejects(async () => stale.append([entry('a', 1, bytes(1), 1), entry('b', 1, bytes(2), 1), entry('c', 1, bytes(3), 1)]), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
      const fences = Object.fromEntries(error.documents.map((name, i) => [name, error.epochs[i]]))
      assert.deepEqual(fences, { a: 2, b: 3 })
      assert.equal(error.epoch, 3)
      return true
    })
    assert.deepEqual((await backend.tables()).updates, [])
  })

  test(`${store.name}: an entry already stored is ignored when its bytes are equal (a retry) and refused with a coded error when they differ; nothing of that batch is written`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    await storage.append([entry('doc', 1, bytes(1)), entry('doc', 2, bytes(2))])
    // A retry after an ambiguous failure: the same entries again, with a new one.
    await storage.append([entry('doc', 2, bytes(2)), entry('doc', 3, bytes(3))])
    const before = await backend.tables()
    assert.deepEqual(before.updates.map((r) => [r.document, r.seq, [...r.data]]), [['doc', 1, [1]], ['doc', 2, [2]], ['doc', 3, [3]]])

    // Another writer's seq 2 and 3, with other bytes, in a batch with another document's entry.
    await assert.rejects(async () => storage.append([entry('other', 1, bytes(9)), entry('doc', 3, bytes(0x33)), entry('doc', 2, bytes(0x22))]), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_CONFLICT')
      assert.deepEqual(error.documents, ['doc'])
      assert.deepEqual(error.seqs, [2], 'the lowest colliding seq')
      return true
    })
    assert.deepEqual(await backend.tables(), before, 'nothing of the batch was written')
  })
}
