// The document lifecycle (lib/collab/lifecycle.ts) driven directly, row by row of its table, with a host
// that records what the lifecycle asks of the world and answers when the test says so, and node:test's
// mock timers for the store schedule.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred } from '../helpers/wait.js'

const { DocumentLifecycle } = await import('../../dist/lib/collab/lifecycle.js')

const timing = { debounce: 2000, maxDebounce: 10_000, storeRetryDelay: 1000 }

/**
 * A host whose hooks wait for the test: `stores` and `unloads` hold one deferred per call (resolve it
 * with true or false), `calls` lists every effect in order.
 */
function fakeHost ({ stores = true } = {}) {
  const host = {
    attachments: 0,
    stores,
    calls: [],
    storeCalls: [],
    unloadCalls: [],
    afterUnloads: [],
    store () {
      host.calls.push('store')
      const call = deferred('the test to end a store')
      host.storeCalls.push(call)
      return call.promise
    },
    mayUnload () {
      host.calls.push('mayUnload')
      const call = deferred('the test to answer beforeUnloadDocument')
      host.unloadCalls.push(call)
      return call.promise
    },
    finalize () { host.calls.push('finalize') },
    resetReceivers () { host.calls.push('resetReceivers') },
    afterUnload () {
      host.calls.push('afterUnload')
      const call = deferred('the test to end afterUnloadDocument')
      host.afterUnloads.push(call)
      return call.promise
    }
  }
  return host
}

// Lets promise callbacks (a store or a hook answering) run.
const settle = () => new Promise(setImmediate)

function live (t, options) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const host = fakeHost(options)
  const lifecycle = new DocumentLifecycle(host, timing)
  lifecycle.hold()
  lifecycle.loaded()
  host.attachments = 1
  lifecycle.attached()
  return { host, lifecycle }
}

test('loading: a change is the load\'s own; loaded → live; a failed load finalizes and leaves nothing', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const host = fakeHost()
  const lifecycle = new DocumentLifecycle(host, timing)
  assert.equal(lifecycle.state, 'loading')
  assert.equal(lifecycle.accepting, false)
  lifecycle.changed()
  t.mock.timers.tick(60_000)
  assert.deepEqual(host.calls, [], 'nothing is stored for what the load applied')
  lifecycle.loaded()
  assert.equal(lifecycle.state, 'live')
  assert.equal(lifecycle.accepting, true)

  const failing = fakeHost()
  const failed = new DocumentLifecycle(failing, timing)
  failed.loadFailed()
  assert.equal(failed.state, 'unloaded')
  assert.deepEqual(failing.calls, ['finalize'])
})

test('live: changes are debounced (debounce after the last, maxDebounce after the first), then stored', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  t.mock.timers.tick(1500)
  lifecycle.changed()
  t.mock.timers.tick(1500)
  assert.deepEqual(host.calls, [], 'the second change moved the due time')
  t.mock.timers.tick(500)
  await settle()
  assert.deepEqual(host.calls, ['store'])
  host.storeCalls[0].resolve(true)
  await settle()
  // Constant changes: stored maxDebounce after the first, however often they come.
  for (let elapsed = 0; elapsed < 10_000; elapsed += 1000) {
    lifecycle.changed()
    t.mock.timers.tick(1000)
  }
  await settle()
  assert.deepEqual(host.calls, ['store', 'store'])
})

test('live: a failed store keeps the changes and retries, the delay doubling; a success resets it', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  t.mock.timers.tick(2000)
  await settle()
  host.storeCalls[0].resolve(false)
  await settle()
  t.mock.timers.tick(999)
  await settle()
  assert.equal(host.storeCalls.length, 1, 'no retry before storeRetryDelay')
  t.mock.timers.tick(1)
  await settle()
  assert.equal(host.storeCalls.length, 2)
  host.storeCalls[1].resolve(false)
  await settle()
  t.mock.timers.tick(1999)
  await settle()
  assert.equal(host.storeCalls.length, 2, 'the delay doubled')
  t.mock.timers.tick(1)
  await settle()
  assert.equal(host.storeCalls.length, 3)
  host.storeCalls[2].resolve(true)
  await settle()
  lifecycle.changed()
  t.mock.timers.tick(2000)
  await settle()
  host.storeCalls[3].resolve(false)
  await settle()
  t.mock.timers.tick(1000)
  await settle()
  assert.equal(host.storeCalls.length, 5, 'after a success, the first retry waits storeRetryDelay again')
})

test('idle: a dirty document is stored at once, then asked to unload; agreed → finalize, afterUnloadDocument → unloaded', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  host.attachments = 0
  lifecycle.detached()
  await settle()
  assert.deepEqual(host.calls, ['store'], 'stored at once, without waiting for the debounce')
  host.storeCalls[0].resolve(true)
  await settle()
  assert.deepEqual(host.calls, ['store', 'mayUnload'])
  assert.equal(lifecycle.state, 'unloading')
  host.unloadCalls[0].resolve(true)
  await settle()
  assert.deepEqual(host.calls, ['store', 'mayUnload', 'finalize', 'afterUnload'])
  assert.equal(lifecycle.state, 'unloaded')
})

test('unloading: a veto keeps the document live, and nothing asks again until it next becomes idle', async (t) => {
  const { host, lifecycle } = live(t)
  host.attachments = 0
  lifecycle.detached()
  host.unloadCalls[0].resolve(false)
  await settle()
  assert.equal(lifecycle.state, 'live')
  t.mock.timers.tick(60_000)
  await settle()
  assert.deepEqual(host.calls, ['mayUnload'], 'no timer asks again')
  lifecycle.hold()
  lifecycle.released()
  assert.deepEqual(host.calls, ['mayUnload', 'mayUnload'], 'the next idle moment asks again')
})

test('unloading: a change while beforeUnloadDocument decides is stored after it, and the document unloads only then', async (t) => {
  const { host, lifecycle } = live(t)
  host.attachments = 0
  lifecycle.detached()
  lifecycle.changed()
  assert.deepEqual(host.calls, ['mayUnload'], 'no store starts while the hook decides')
  host.unloadCalls[0].resolve(true)
  await settle()
  assert.equal(lifecycle.state, 'live')
  assert.deepEqual(host.calls, ['mayUnload', 'store'], 'the deferred store runs at once: nobody is attached')
  host.storeCalls[0].resolve(true)
  await settle()
  host.unloadCalls[1].resolve(true)
  await settle()
  assert.equal(lifecycle.state, 'unloaded')
  assert.deepEqual(host.calls, ['mayUnload', 'store', 'mayUnload', 'finalize', 'afterUnload'])
})

test('a hold keeps an idle document loaded; released, it unloads', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.hold()
  host.attachments = 0
  lifecycle.detached()
  assert.deepEqual(host.calls, [], 'an acquirer is on its way')
  lifecycle.released()
  assert.deepEqual(host.calls, ['mayUnload'])
})

test('deposed while loading: it leaves once the load ends, reset and unloaded without storing', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const host = fakeHost()
  const lifecycle = new DocumentLifecycle(host, timing)
  assert.equal(lifecycle.depose(), true)
  assert.equal(lifecycle.state, 'deposed')
  assert.deepEqual(host.calls, [], 'the load decides nothing any more, but it is not interrupted')
  lifecycle.loaded()
  assert.equal(lifecycle.state, 'unloaded')
  assert.deepEqual(host.calls, ['resetReceivers', 'finalize', 'afterUnload'])
  assert.equal(lifecycle.depose(), false, 'once only')
})

test('deposed while live, with changes unstored: reset and unloaded at once, nothing stored, no timer left', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  assert.equal(lifecycle.depose(), true)
  assert.equal(lifecycle.state, 'unloaded')
  t.mock.timers.tick(60_000)
  await settle()
  assert.deepEqual(host.calls, ['resetReceivers', 'finalize', 'afterUnload'])
})

test('deposed in the turn its store came due (an owner waking from a pause): the queued store never runs', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  t.mock.timers.tick(timing.debounce)
  assert.equal(lifecycle.depose(), true)
  await settle()
  assert.deepEqual(host.calls, ['resetReceivers', 'finalize', 'afterUnload'], 'the store hooks never see a load that has ended')
})

test('shutdown during a store: it waits for the store, stores once more what changed meanwhile, then unloads and awaits afterUnloadDocument', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  t.mock.timers.tick(2000)
  await settle()
  lifecycle.changed()
  let done = false
  const closing = lifecycle.shutdown().then(() => { done = true })
  assert.equal(lifecycle.state, 'closing')
  assert.equal(lifecycle.accepting, false)
  assert.equal(lifecycle.depose(), false, 'a closing document is not deposed')
  host.storeCalls[0].resolve(true)
  await settle()
  assert.deepEqual(host.calls, ['store', 'store'], 'the change made during the running store')
  host.storeCalls[1].resolve(true)
  await settle()
  assert.deepEqual(host.calls, ['store', 'store', 'finalize', 'afterUnload'])
  assert.equal(done, false, 'afterUnloadDocument is awaited at shutdown')
  host.afterUnloads[0].resolve()
  await closing
  assert.equal(lifecycle.state, 'unloaded')
})

test('shutdown while beforeUnloadDocument decides: its answer is ignored, the document unloads without asking again', async (t) => {
  const { host, lifecycle } = live(t)
  host.attachments = 0
  lifecycle.detached()
  const closing = lifecycle.shutdown()
  host.unloadCalls[0].resolve(false)
  await settle()
  host.afterUnloads[0].resolve()
  await closing
  assert.deepEqual(host.calls, ['mayUnload', 'finalize', 'afterUnload'])
})

test('a store failure at shutdown ends the shutdown: nothing is retried after fastify.close()', async (t) => {
  const { host, lifecycle } = live(t)
  lifecycle.changed()
  const closing = lifecycle.shutdown()
  await settle()
  host.storeCalls[0].resolve(false)
  await settle()
  host.afterUnloads[0].resolve()
  await closing
  assert.deepEqual(host.calls, ['store', 'finalize', 'afterUnload'])
})

test('without store hooks, changes schedule nothing and an idle document unloads at once', async (t) => {
  const { host, lifecycle } = live(t, { stores: false })
  lifecycle.changed()
  t.mock.timers.tick(60_000)
  host.attachments = 0
  lifecycle.detached()
  assert.deepEqual(host.calls, ['mayUnload'])
})

test('a new load of the same name is a new lifecycle: an earlier load\'s afterUnloadDocument still running touches nothing of it', async (t) => {
  const { host, lifecycle } = live(t)
  host.attachments = 0
  lifecycle.detached()
  host.unloadCalls[0].resolve(true)
  await settle()
  assert.equal(lifecycle.state, 'unloaded')
  assert.equal(host.afterUnloads.length, 1, 'the earlier load\'s afterUnloadDocument runs')
  const later = new DocumentLifecycle(fakeHost(), timing)
  later.loaded()
  later.changed()
  host.afterUnloads[0].resolve()
  await settle()
  assert.equal(later.state, 'live')
  assert.equal(lifecycle.state, 'unloaded')
  lifecycle.changed()
  lifecycle.detached()
  assert.deepEqual(host.calls, ['mayUnload', 'finalize', 'afterUnload'], 'an unloaded lifecycle ignores every event')
})
