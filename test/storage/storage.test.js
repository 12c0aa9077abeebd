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
    await assert.rejects(async () => storage.claim('a', 1), { code: 'FST_COLLAB_STORAGE_CLOSED' })
  })

  test(`${store.name}: two claimers in turn on two connections: the stale one's append and compact fail, coded, and change nothing`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = backend.storage()
    const second = backend.storage()
    t.after(() => Promise.all([first.close(), second.close()]))

    await first.claim('doc', 1)
    await first.claim('doc', 1) // the same epoch again: a retried claim succeeds
    await first.append([entry('doc', 1, bytes(1), 1), entry('doc', 2, bytes(2), 1)])
    await second.claim('doc', 2)
    const before = await backend.tables()
    assert.deepEqual(before.fences, [{ document: 'doc', epoch: 2 }])

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
    await assert.rejects(async () => first.claim('doc', 1), isFenced)
    assert.deepEqual(await backend.tables(), before, 'the stale writes changed nothing')

    // The new owner writes, and so do writers that carry no epoch (one instance, no scale-out).
    await second.append([entry('doc', 3, bytes(3), 2)])
    await second.compact('doc', bytes(0xcc), 2, 2)
    await first.append([entry('other', 1, bytes(8))])
    const after = await backend.tables()
    assert.deepEqual(after.updates.map((r) => [r.document, r.seq]), [['doc', 3], ['other', 1]])
    assert.deepEqual(after.snapshots.map((r) => [r.document, r.seq, [...r.state]]), [['doc', 2, [0xcc]]])

    // A higher claim by the first connection fences the second in turn.
    await first.claim('doc', 3)
    await assert.rejects(async () => second.append([entry('doc', 4, bytes(4), 2)]), { code: 'FST_COLLAB_STORAGE_FENCED' })
    assert.deepEqual((await backend.tables()).fences, [{ document: 'doc', epoch: 3 }])
  })

  test(`${store.name}: a batch of several fenced documents names each with its recorded epoch`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const stale = backend.storage()
    const fresh = backend.storage()
    t.after(() => Promise.all([stale.close(), fresh.close()]))
    await stale.claim('a', 1)
    await stale.claim('b', 1)
    await stale.claim('c', 1)
    await fresh.claim('a', 5)
    await fresh.claim('b', 7)
    await assert.rejects(async () => stale.append([entry('a', 1, bytes(1), 1), entry('b', 1, bytes(2), 1), entry('c', 1, bytes(3), 1)]), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
      const fences = Object.fromEntries(error.documents.map((name, i) => [name, error.epochs[i]]))
      assert.deepEqual(fences, { a: 5, b: 7 })
      assert.equal(error.epoch, 7)
      return true
    })
    assert.deepEqual((await backend.tables()).updates, [])
  })
}
