import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import * as encoding from 'lib0/encoding'
import { captureLog } from '../helpers/log.js'
import { startCollabServer, synced } from '../helpers/server.js'
import { when } from '../helpers/wait.js'
import { rawClient, hp, hpAuth, isHp, hpUpdate, textUpdate, deniedReason, ywsStep1 } from '../helpers/raw-client.js'

// Issue 7 §6, collab side: whatever a hook or a listener throws, nothing
// becomes an unhandled rejection or an uncaught exception, and no document is
// left behind.

/** Records unhandled rejections and uncaught exceptions for the test's duration. */
function watchProcess (t) {
  const problems = []
  const onRejection = reason => problems.push(['unhandledRejection', reason])
  const onException = error => problems.push(['uncaughtException', error])
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtExceptionMonitor', onException)
  t.after(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtExceptionMonitor', onException)
  })
  return problems
}

// Values that are not Errors, as apps throw them.
const odd = [null, undefined, 'a string', 42, { statusCode: 401 }, Symbol('odd')]

test('hooks that throw non-Errors refuse or are logged as their hook says, a failed store is retried; nothing escapes', async t => {
  const problems = watchProcess(t)
  const unloads = new EventEmitter()
  let n = 0
  const next = () => odd[n++ % odd.length]
  let stores = 0
  const { url, app } = await startCollabServer(t, {
    onConnect ({ documentName }) { if (documentName === 'refused-connect') throw next() },
    onAuthenticate ({ documentName }) { if (documentName === 'refused-auth') throw { reason: 'custom reason' } }, // eslint-disable-line no-throw-literal
    onLoadDocument ({ documentName }) { if (documentName === 'refused-load') throw next() },
    connected () { throw next() },
    onChange () { throw next() },
    // Fails once (retried after storeRetryDelay), then stores.
    onStoreDocument () { if (stores++ === 0) throw next() },
    onAwarenessUpdate () { throw next() },
    onStateless () { throw next() },
    onDisconnect () { throw next() },
    afterUnloadDocument ({ documentName }) {
      unloads.emit('unload', documentName)
      throw next()
    },
    storeRetryDelay: 1
  })
  const client = await rawClient(t, url)
  client.send(hpAuth('refused-connect'))
  assert.equal(deniedReason(await client.next(isHp('refused-connect', 2, 1))), 'permission-denied')
  client.send(hpAuth('refused-auth'))
  assert.equal(deniedReason(await client.next(isHp('refused-auth', 2, 1))), 'custom reason')
  client.send(hpAuth('refused-load'))
  await client.next(isHp('refused-load', 2, 1))
  assert.equal(app.collab.documents.has('refused-load'), false)
  client.send(hpAuth('busy'))
  await client.next(isHp('busy', 2, 2))
  client.send(hpUpdate('busy', textUpdate('x')))
  await client.next(isHp('busy', 8))
  client.send(hp('busy', 5, e => encoding.writeVarString(e, 'stateless')))
  const unloaded = when(unloads, 'unload', { predicate: name => name === 'busy', what: '"busy" to unload after its retried store' })
  client.send(hp('busy', 7))
  await unloaded
  assert.equal(stores, 2)
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.deepEqual(problems, [])
})

test('a destroy listener (Y.Doc or awareness) that throws while a document unloads is logged; the document is gone', async t => {
  const problems = watchProcess(t)
  const capture = captureLog()
  const { app, yws, drop } = await startCollabServer(t, {
    onLoadDocument ({ document, documentName }) {
      document.on('destroy', () => { throw new Error(`doc destroy of ${documentName}`) })
      document.awareness.on('destroy', () => { throw 'awareness destroy' }) // eslint-disable-line no-throw-literal
      if (documentName === 'fails') throw new Error('load failed')
    }
  }, { fastify: { logger: capture.logger } })
  const provider = yws('destroy')
  await synced(provider)
  const gone = when(capture.events, 'line', { check: () => !app.collab.documents.has('destroy'), what: 'the document to unload' })
  drop(provider)
  await gone
  const failing = yws('fails')
  await when(failing, 'connection-close', { what: 'the refused client' })
  assert.equal(app.collab.documents.has('fails'), false)
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.ok(capture.lines.some(line => /destroy listener threw/.test(line.msg)))
  assert.deepEqual(problems, [])
})

test('a y-websocket socket whose document load throws a non-Error is closed with 1011 and leaves nothing', async t => {
  const problems = watchProcess(t)
  const { url, app } = await startCollabServer(t, { onLoadDocument () { throw undefined } }) // eslint-disable-line no-throw-literal
  const client = await rawClient(t, `${url}/nothing`)
  client.send(ywsStep1())
  assert.equal((await client.closed).code, 1011)
  assert.equal(app.collab.getDocumentsCount(), 0)
  assert.deepEqual(problems, [])
})
