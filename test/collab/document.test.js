import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startCollabServer, synced } from '../helpers/server.js'
import { when, untilDocs, deferred, waitFor } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'
import { NodeProcess } from '../helpers/child.js'

// The document state machine: one shared load, debounced and serialised
// stores, store on last disconnect, retry after a failed store, the unload
// veto, and a failed load that leaves nothing behind.

test('simultaneous connections share one load, and none is answered before it ends', async t => {
  const gate = deferred('the test to let the load finish')
  let loads = 0
  const { app, hocus, yws } = await startCollabServer(t, {
    async onLoadDocument ({ document }) {
      loads++
      await gate.promise
      document.getText('text').insert(0, 'loaded')
    }
  })
  const clients = [hocus('shared'), hocus('shared'), yws('shared'), yws('shared')]
  await waitFor(() => app.collab.getDocumentsCount() === 1, { what: 'the load to start' })
  assert.ok(clients.every(c => !(c.isSynced ?? c.synced)), 'nobody is synced during the load')
  gate.resolve()
  await Promise.all(clients.map(c => synced(c)))
  assert.equal(loads, 1)
  for (const c of clients) assert.equal((c.document ?? c.doc).getText('text').toString(), 'loaded')
})

test('five edits within the debounce give one store with the last state, and no other before the unload', async t => {
  const { hooks, calls, until } = recordHooks(['onStoreDocument', 'afterUnloadDocument'])
  const { hocus, drop } = await startCollabServer(t, { debounce: 150, maxDebounce: 400, ...hooks })
  const h = hocus('debounced')
  await synced(h)
  const text = h.document.getText('text')
  for (let i = 0; i < 5; i++) text.insert(text.length, String(i))
  await until('onStoreDocument')
  assert.equal(calls.onStoreDocument[0].text, '01234')
  // The unload ends the document's stores: counting then sees any later one.
  drop(h)
  await until('afterUnloadDocument')
  assert.equal(calls.onStoreDocument.length, 1)
})

test('maxDebounce bounds the wait under constant edits: the store comes before the edits stop', async t => {
  const { hooks, calls, until } = recordHooks(['onStoreDocument'])
  const { hocus } = await startCollabServer(t, { debounce: 150, maxDebounce: 400, ...hooks })
  const h = hocus('constant')
  await synced(h)
  const text = h.document.getText('text')
  // 100 edits 20 ms apart (2 s) never leave 150 ms of quiet; only maxDebounce (400 ms) can store meanwhile.
  const events = []
  let edits = 0
  const timer = setInterval(() => {
    text.insert(text.length, '.')
    if (++edits === 100) {
      clearInterval(timer)
      events.push('edits stopped')
    }
  }, 20)
  t.after(() => clearInterval(timer))
  await until('onStoreDocument', () => true, { timeout: 4000 })
  events.push('stored')
  clearInterval(timer)
  assert.deepEqual(events, ['stored'], 'stored while the edits went on')
  assert.equal(calls.onStoreDocument.length, 1)
})

test('the last disconnect stores at once, then the document unloads', async t => {
  const { hooks, calls, until } = recordHooks(['onStoreDocument', 'afterStoreDocument', 'beforeUnloadDocument', 'afterUnloadDocument'])
  const { app, hocus, drop } = await startCollabServer(t, { debounce: 60_000, maxDebounce: 60_000, ...hooks })
  const h = hocus('last')
  await synced(h)
  h.document.getText('text').insert(0, 'bye')
  await untilDocs([app.collab.documents.get('last')], () => app.collab.documents.get('last').getText('text').toString() === 'bye')
  drop(h)
  await until('afterUnloadDocument')
  assert.equal(calls.onStoreDocument.length, 1)
  assert.equal(calls.onStoreDocument[0].text, 'bye')
  assert.equal(calls.afterStoreDocument.length, 1)
  assert.equal(calls.beforeUnloadDocument.length, 1)
  assert.equal(app.collab.getDocumentsCount(), 0)
})

test('a failed store keeps the document, retries with growing delays, and unloads after the first success', async t => {
  let attempts = 0
  const times = []
  const stored = deferred('onStoreDocument')
  const { app, hocus, drop } = await startCollabServer(t, {
    storeRetryDelay: 20,
    async onStoreDocument ({ document }) {
      attempts++
      times.push(performance.now())
      if (attempts < 4) throw new Error(`disk full ${attempts}`)
      stored.resolve(document.getText('text').toString())
    }
  })
  const h = hocus('retry')
  await synced(h)
  h.document.getText('text').insert(0, 'precious')
  await untilDocs([app.collab.documents.get('retry')], () => app.collab.documents.get('retry').getText('text').toString() === 'precious')
  drop(h)
  await waitFor(() => attempts >= 1, { what: 'the first store' })
  assert.equal(app.collab.getDocumentsCount(), 1, 'kept after a failed store')
  assert.equal(await stored.wait(), 'precious')
  assert.equal(attempts, 4)
  // A timer never fires early, so each gap is at least its delay: 20, 40, 80 ms
  // (1 ms for timer rounding). A fixed delay would give three gaps of about 20 ms.
  const gaps = times.slice(1).map((time, i) => time - times[i])
  gaps.forEach((gap, i) => assert.ok(gap >= 20 * 2 ** i - 1, `retry ${i + 1} waited ${gap} ms, expected at least ${20 * 2 ** i}`))
  await waitFor(() => app.collab.getDocumentsCount() === 0, { what: 'the unload after the successful store' })
})

test('beforeUnloadDocument can veto the unload; the next disconnect asks again', async t => {
  let veto = true
  const asked = []
  const { app, hocus, drop } = await startCollabServer(t, {
    async beforeUnloadDocument ({ documentName }) {
      asked.push(documentName)
      if (veto) throw new Error('keep it')
    }
  })
  const first = hocus('veto')
  await synced(first)
  drop(first)
  await waitFor(() => asked.length === 1, { what: 'beforeUnloadDocument' })
  assert.equal(app.collab.getDocumentsCount(), 1, 'vetoed: still loaded')
  veto = false
  const second = hocus('veto')
  await synced(second)
  drop(second)
  await waitFor(() => app.collab.getDocumentsCount() === 0, { what: 'the unload' })
  assert.equal(asked.length, 2)
})

test('an onLoadDocument throw denies every waiter (permission-denied: the error was not meant for the client) and leaves no document behind', async t => {
  const gate = deferred('the test to fail the load')
  let loads = 0
  let authenticated = 0
  const { app, hocus, yws, drop } = await startCollabServer(t, {
    onAuthenticate () { authenticated++ },
    async onLoadDocument () {
      loads++
      await gate.promise
    }
  })
  const a = hocus('broken')
  const b = hocus('broken')
  const y = yws('broken')
  await waitFor(() => authenticated === 3, { what: 'all three to wait for the load' })
  const failures = Promise.all([a, b].map(p => when(p, 'authenticationFailed')))
  gate.reject(new Error('storage offline'))
  gate.promise.catch(() => {})
  const yClosed = when(y, 'connection-close', { what: 'the y-websocket socket to close' })
  for (const [{ reason }] of await failures) assert.equal(reason, 'permission-denied')
  const [event] = await yClosed
  // 1011: a server-side failure, so y-websocket retries later; stop it here.
  assert.equal(event.code, 1011)
  drop(y)
  assert.equal(loads, 1, 'one load answered every waiter')
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.equal(app.collab.getConnectionsCount(), 0)
})

test('a process whose load failed, and which then closes, exits by itself (no timer or listener left)', async t => {
  const script = fileURLToPath(new URL('../fixtures/load-failure-server.js', import.meta.url))
  const child = new NodeProcess(t, [script], { name: 'the load-failure server' })
  const { code, signal } = await child.exit({ what: 'the process to exit by itself after its load failed and it closed' })
  assert.equal(signal, null, 'the child exited by itself, it was not killed')
  assert.equal(code, 0, child.err.join('\n'))
  assert.deepEqual(JSON.parse(child.out.join('')), { reason: 'permission-denied', documents: 0, connections: 0 })
})

test('fastify.close() stores every changed document, then runs onDestroy, before it resolves', async t => {
  const order = []
  const { app, hocus } = await startCollabServer(t, {
    debounce: 60_000,
    maxDebounce: 60_000,
    async onStoreDocument ({ documentName, document }) { order.push(`store:${documentName}:${document.getText('text').toString()}`) },
    async onDestroy () { order.push('destroy') }
  })
  const a = hocus('one')
  const b = hocus('two')
  await Promise.all([synced(a), synced(b)])
  a.document.getText('text').insert(0, 'A')
  b.document.getText('text').insert(0, 'B')
  await untilDocs([app.collab.documents.get('one'), app.collab.documents.get('two')],
    () => app.collab.documents.get('one').getText('text').length === 1 && app.collab.documents.get('two').getText('text').length === 1)
  await app.close()
  assert.deepEqual(order.slice(0, 2).toSorted(), ['store:one:A', 'store:two:B'])
  assert.equal(order.at(-1), 'destroy')
  assert.equal(order.length, 3)
  assert.equal(app.collab.getDocumentsCount(), 0)
})
