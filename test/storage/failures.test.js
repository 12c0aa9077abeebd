// A store that fails, on every store: the data stays in memory, the acknowledgement waits, a coded error
// is logged, and the retry that succeeds writes everything in order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { stores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'
import { change, loaded, logged, track, typedUpdates } from '../helpers/storage.js'
import { within } from '../helpers/wait.js'

const retry = { initialDelay: 5, maxDelay: 20 }

for (const store of stores) {
  test(`${store.name}: a store locked by another connection: logged with a code, kept in memory, acknowledged after the retry commits`, { skip: store.skip, timeout: 20_000 }, async (t) => {
    const backend = await store.open(t)
    const capture = captureLog()
    const extension = backend.extension({ ...backend.lockOptions, retry, log: capture.log })
    t.after(() => extension.onDestroy())
    const doc = await loaded(extension)
    const { updates, doc: source } = typedUpdates(6)

    const lock = await backend.lock()
    const first = capture.lines.length
    const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    const acks = updates.slice(0, 3).map((update) => extension.onChange(change('doc', doc, update)))
    const states = acks.map(track)
    const line = await failed
    assert.equal(line.level, 50, 'logged at error level')
    assert.match(line.err.message, /Could not append 3 update\(s\)/)
    assert.match(line.causeCode, backend.lockedCode)

    // More updates arrive while the store is locked; they join the retried batch.
    await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    acks.push(...updates.slice(3).map((update) => extension.onChange(change('doc', doc, update))))
    await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    assert.ok(states.every((state) => !state.settled), 'no acknowledgement while the write fails')
    assert.ok(capture.lines.length - first >= 3)

    await lock.release()
    await within(Promise.all(acks), { timeout: 10_000, what: 'every acknowledgement once the store is back' })
    assert.deepEqual((await backend.tables()).updates.map((row) => row.seq), [1, 2, 3, 4, 5, 6])
    await extension.onStoreDocument({ documentName: 'doc', document: doc })
    const check = new Y.Doc()
    Y.applyUpdate(check, (await backend.tables()).snapshots[0].state)
    assert.equal(check.getText('text').toString(), source.getText('text').toString())
  })

  test(`${store.name}: updates that still cannot be written at close are reported as lost, and their promises reject`, { skip: store.skip, timeout: 20_000 }, async (t) => {
    const backend = await store.open(t)
    const capture = captureLog()
    const extension = backend.extension({ ...backend.lockOptions, retry: { initialDelay: 60_000 }, log: capture.log })
    const doc = await loaded(extension)
    const lock = await backend.lock()
    t.after(() => lock.release())
    const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    const ack = extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
    await failed
    const lost = logged(capture, 'FST_COLLAB_STORAGE_LOST')
    await extension.onDestroy()
    assert.match((await lost).err.message, /closed with 1 update/)
    await assert.rejects(ack, { code: 'FST_COLLAB_STORAGE_LOST' })
  })

  test(`${store.name}: a failed compaction on store rejects with a code and keeps the log`, { skip: store.skip, timeout: 20_000 }, async (t) => {
    const backend = await store.open(t)
    const extension = backend.extension({ ...backend.lockOptions, retry })
    t.after(() => extension.onDestroy())
    const doc = await loaded(extension)
    await extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
    const lock = await backend.lock()
    await assert.rejects(extension.onStoreDocument({ documentName: 'doc', document: doc }), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_COMPACT')
      assert.match(error.cause.code, backend.lockedCode)
      return true
    })
    await lock.release()
    assert.equal((await backend.tables()).updates.length, 1)
    await extension.onStoreDocument({ documentName: 'doc', document: doc })
    assert.equal((await backend.tables()).updates.length, 0)
  })
}
