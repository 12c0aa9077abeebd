// The backlog of an outage is written in bounded chunks, one per event-loop turn, oldest first:
// recovery never holds the loop for one huge transaction, and nothing is lost or reordered.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { storageExtension } from 'fastify-collab'
import { stores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'
import { change, counting, loaded, logged, track, typedUpdates } from '../helpers/storage.js'
import { within } from '../helpers/wait.js'

/** Counts event-loop turns: one setImmediate per turn, until stopped. */
function turnCounter (t) {
  const counter = { turns: 0, running: true }
  const tick = () => {
    counter.turns++
    if (counter.running) setImmediate(tick)
  }
  setImmediate(tick)
  t.after(() => { counter.running = false })
  return counter
}

for (const store of stores) {
  test(`${store.name}: a backlog is written in appends of at most maxBatchUpdates, with the loop turning between them, in order`, { skip: store.skip, timeout: 60_000 }, async (t) => {
    const backend = await store.open(t)
    const capture = captureLog()
    const counter = turnCounter(t)
    const inner = counting(backend.storage(backend.lockOptions))
    // Record the loop turn and the acknowledgements settled so far at each append call, and whether it committed.
    const calls = []
    let acks = []
    const storage = {
      ...inner,
      append (entries) {
        const call = { entries: entries.length, turn: counter.turns, acked: acks.filter((ack) => ack.state?.settled).length, first: entries[0], ok: false }
        calls.push(call)
        return Promise.resolve(inner.append(entries)).then(() => { call.ok = true })
      }
    }
    const extension = storageExtension(storage, { maxBatchUpdates: 400, retry: { initialDelay: 5, maxDelay: 20 }, log: capture.log })
    t.after(() => extension.onDestroy())
    const docs = { a: await loaded(extension, 'a'), b: await loaded(extension, 'b') }
    const sources = { a: typedUpdates(1500, 'a'), b: typedUpdates(900, 'b') }

    // The store is down while 2,400 updates of two documents arrive, over many turns.
    const lock = await backend.lock()
    const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    for (let i = 0; i < 1500; i += 100) {
      for (let k = i; k < i + 100; k++) {
        acks.push({ doc: 'a', seq: k + 1, promise: extension.onChange(change('a', docs.a, sources.a.updates[k])) })
        if (k < 900) acks.push({ doc: 'b', seq: k + 1, promise: extension.onChange(change('b', docs.b, sources.b.updates[k])) })
      }
      await new Promise(setImmediate)
    }
    acks = acks.map((ack) => ({ ...ack, state: track(ack.promise) }))
    await failed
    assert.ok(acks.every((ack) => !ack.state.settled), 'nothing acknowledged while the store is down')

    await lock.release()
    await within(Promise.all(acks.map((ack) => ack.promise)), { timeout: 30_000, what: 'every acknowledgement once the store is back' })
    const chunks = calls.filter((call) => call.ok)
    assert.equal(chunks.reduce((sum, call) => sum + call.entries, 0), 2400, 'each update committed once')
    assert.ok(chunks.length >= 6, `${chunks.length} committed appends`)
    assert.ok(calls.every((call) => call.entries <= 400), `every append within the bound: ${calls.map((c) => c.entries)}`)
    let start = 0
    for (let i = 0; i < chunks.length; i++) {
      // Oldest first: chunk i starts where chunk i - 1 ended, in arrival order (a and b interleaved).
      assert.equal(chunks[i].first.documentName + chunks[i].first.seq, acks[start].doc + acks[start].seq)
      start += chunks[i].entries
      if (i === 0) continue
      assert.ok(chunks[i].turn > chunks[i - 1].turn, 'the loop turned between two chunks')
      assert.ok(chunks[i].acked > chunks[i - 1].acked, 'each chunk is acknowledged as it commits, not at the end')
    }

    const tables = await backend.tables()
    for (const name of ['a', 'b']) {
      const rows = tables.updates.filter((row) => row.document === name)
      assert.deepEqual(rows.map((row) => row.seq), sources[name].updates.map((_, i) => i + 1), `${name}: every seq, no gap`)
      const check = new Y.Doc()
      for (const row of rows) Y.applyUpdate(check, row.data)
      assert.equal(check.getText('text').toString(), sources[name].doc.getText('text').toString())
    }
  })

  test(`${store.name}: maxBatchBytes bounds the bytes of one append; a larger update goes alone`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = counting(backend.storage())
    const extension = storageExtension(storage, { maxBatchBytes: 1000 })
    t.after(() => extension.onDestroy())
    const doc = await loaded(extension)
    const source = new Y.Doc()
    const updates = []
    source.on('update', (update) => updates.push(update))
    for (let i = 0; i < 20; i++) source.getText('text').insert(0, 'x'.repeat(180))
    source.getText('text').insert(0, 'y'.repeat(3000))
    const sizes = updates.map((update) => update.byteLength)
    await Promise.all(updates.map((update) => extension.onChange(change('doc', doc, update))))
    // Oldest first, each append as many whole updates as fit in 1,000 bytes.
    const expected = []
    let count = 0
    let bytes = 0
    for (const size of sizes) {
      if (count > 0 && bytes + size > 1000) {
        expected.push(count)
        count = 0
        bytes = 0
      }
      count++
      bytes += size
    }
    expected.push(count)
    assert.deepEqual(storage.appends, expected)
    assert.equal(storage.appends.at(-1), 1, 'the 3,000-byte update alone')
    assert.equal((await backend.tables()).updates.length, 21)
  })
}
