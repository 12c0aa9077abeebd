import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startCollabServer, connectClients, synced, acknowledged } from '../helpers/server.js'
import { when } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'
import { NodeProcess } from '../helpers/child.js'

// fastify.close() stores every changed document with its latest state and runs
// onDestroy before it resolves (issue 3, item 11).

// Stores are debounced far beyond the test, so only the shutdown can store.
const SLOW = { debounce: 60000, maxDebounce: 120000 }

test('fastify.close() stores every changed document with its latest state, then runs onDestroy, before it resolves', async t => {
  const record = recordHooks(['onChange', 'onStoreDocument', 'onDestroy'])
  const order = []
  const { app, yws, hocus } = await startCollabServer(t, {
    ...SLOW,
    async onStoreDocument (payload) {
      await record.hooks.onStoreDocument(payload)
      order.push(`store ${payload.documentName}`)
    },
    async onChange (payload) { await record.hooks.onChange(payload) },
    async onDestroy (payload) {
      await record.hooks.onDestroy(payload)
      order.push('destroy')
    }
  })
  const alpha = yws('alpha')
  const beta = hocus('beta')
  await Promise.all([synced(alpha), synced(beta)])

  alpha.doc.getText('text').insert(0, 'alpha')
  beta.document.getText('text').insert(0, 'beta')
  await acknowledged(beta)
  await record.until('onChange', call => call.documentName === 'alpha' && call.text === 'alpha', { what: 'the alpha edit at the server' })
  // The latest state, not the first: one more edit each.
  alpha.doc.getText('text').insert(5, ' and more')
  beta.document.getText('text').insert(4, ' and more')
  await acknowledged(beta)
  await record.until('onChange', call => call.documentName === 'alpha' && call.text === 'alpha and more', { what: 'the second alpha edit at the server' })
  // A direct connection left open must not hold the shutdown up.
  const direct = await app.collab.openDirectConnection('gamma')
  await direct.transact(doc => doc.getText('text').insert(0, 'gamma, left open'))
  assert.equal(record.calls.onStoreDocument.length, 0, 'nothing stored before the shutdown')

  const closes = Promise.all([
    when(alpha, 'connection-close', { what: 'the y-websocket client to see the close' }),
    when(beta, 'close', { what: 'the Hocuspocus client to see the close' })
  ])
  await app.close()
  order.push('closed')

  const last = name => record.calls.onStoreDocument.filter(call => call.documentName === name).at(-1)?.text
  assert.equal(last('alpha'), 'alpha and more')
  assert.equal(last('beta'), 'beta and more')
  assert.equal(last('gamma'), 'gamma, left open')
  assert.equal(record.calls.onDestroy.length, 1)
  assert.equal(order.at(-2), 'destroy', `onDestroy runs after the stores and before close() resolves: ${order}`)
  assert.equal(app.collab.getDocumentsCount(), 0)
  // Clients were told the service restarts (1012, IANA registry), once every document was stored.
  const [[yEvent], [{ event: hEvent }]] = await closes
  assert.deepEqual([yEvent.code, hEvent.code], [1012, 1012])
})

test('after fastify.close() with clients still connected, the server process exits by itself', { timeout: 40000 }, async t => {
  const { child } = new NodeProcess(t, [fileURLToPath(new URL('../fixtures/shutdown-server.js', import.meta.url))], { name: 'the shutdown server', ipc: true })
  const messages = []
  child.on('message', message => messages.push(message))
  // A fresh Node process loads Fastify and the plugin first: seconds on a loaded 2-core machine.
  const [{ url }] = await when(child, 'message', { predicate: message => 'url' in message, timeout: 20000, what: 'the child server to listen' })

  const clients = connectClients(url)
  t.after(() => clients.destroyAll())
  const alpha = clients.yws('alpha')
  const beta = clients.hocus('beta')
  await Promise.all([synced(alpha), synced(beta)])
  alpha.doc.getText('text').insert(0, 'alpha')
  beta.document.getText('text').insert(0, 'beta')
  await acknowledged(beta)
  await when(child, 'message', {
    check: () => messages.some(m => m.hook === 'onChange' && m.documentName === 'alpha' && m.text === 'alpha'),
    what: 'the alpha edit at the server'
  })

  const exited = when(child, 'exit', { timeout: 10000, what: 'the server process to exit by itself after close()' })
  child.send('close')
  const [code, signal] = await exited
  assert.equal(signal, null)
  assert.equal(code, 0)

  const hooks = messages.filter(m => m.hook === 'onStoreDocument' || m.hook === 'onDestroy')
  const stored = Object.fromEntries(hooks.filter(m => m.hook === 'onStoreDocument').map(m => [m.documentName, m.text]))
  assert.deepEqual(stored, { alpha: 'alpha', beta: 'beta' })
  assert.equal(hooks.at(-1).hook, 'onDestroy')
  assert.ok(messages.at(-1).closed, 'close() resolved after the stores and onDestroy')
})
