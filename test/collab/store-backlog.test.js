import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { sqlite } from 'fastify-collab/sqlite'
import { startCollabServer, synced } from '../helpers/server.js'
import { when, untilDocs } from '../helpers/wait.js'
import { captureLog } from '../helpers/log.js'
import { tempDir } from '../helpers/cleanup.js'
import { openSqlite } from '../helpers/stores.js'
import { rawClient, hpAuth, isHp, hpUpdate, textUpdate, syncStatusOf } from '../helpers/raw-client.js'

// Issue 7 §7: durability does not depend on other extensions, and the
// backlog of changes the store has not taken yet is bounded (maxUnstoredBytes).

const retry = { initialDelay: 5, maxDelay: 20 }
const text = doc => doc.getText('text').toString()

test('every onChange runs even when others throw (any priority, non-Errors too): the store logs the update, the client gets SyncStatus 0, each failure is logged once', async t => {
  const path = join(tempDir(t), 'collab.db')
  const capture = captureLog()
  const { url } = await startCollabServer(t, {
    extensions: [
      { priority: 300, onChange () { throw new Error('before the store') } },
      sqlite({ path, retry }),
      { priority: 50, onChange () { throw { statusCode: 500 } } } // eslint-disable-line no-throw-literal
    ],
    onChange: async () => { throw new Error('after the store') }
  }, { fastify: { logger: capture.logger } })
  const client = await rawClient(t, url)
  client.send(hpAuth('durable'))
  await client.next(isHp('durable', 2, 2))
  client.send(hpUpdate('durable', textUpdate('kept')))
  assert.equal(syncStatusOf(await client.next(isHp('durable', 8))), 0)
  const db = openSqlite('better-sqlite3', path, { readonly: true })
  t.after(() => db.close())
  assert.equal(db.all('SELECT seq FROM collab_updates').length, 1, 'the store logged the update')
  assert.equal(capture.lines.filter(line => line.hook === 'onChange' && line.level === 50).length, 3)
})

test('maxUnstoredBytes: while the SQLite store is locked, past the bound Hocuspocus gets SyncStatus 0, y-websocket is closed with 1013, transact() rejects; once it is back every change arrives and is stored', { timeout: 30_000 }, async t => {
  const path = join(tempDir(t), 'collab.db')
  const capture = captureLog({ level: 'warn' })
  const unloads = new EventEmitter()
  const server = await startCollabServer(t, {
    maxUnstoredBytes: 100,
    extensions: [sqlite({ path, retry })],
    afterUnloadDocument: ({ documentName }) => { unloads.emit('unload', documentName) }
  }, { fastify: { logger: capture.logger } })
  const h = server.hocus('backlog')
  const y = server.yws('backlog')
  await Promise.all([synced(h), synced(y)])
  const direct = await server.app.collab.openDirectConnection('backlog')
  t.after(() => direct.disconnect())
  const document = server.app.collab.documents.get('backlog')

  const other = new Database(path)
  t.after(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const refused = when(capture.events, 'line', { predicate: line => line.limit === 'maxUnstoredBytes', what: 'the warn line of maxUnstoredBytes' })
  let refusedSeen = false
  capture.events.on('line', line => { if (line.limit === 'maxUnstoredBytes') refusedSeen = true })
  // One keystroke a transaction, each one update of about 20 bytes, and each in a socket read of its own
  // (the server applies what one read brings in one transaction): the next goes once the server applied
  // this one, or refused one.
  for (const char of 'hocuspocus!') {
    const before = text(document).length
    h.document.getText('text').insert(text(h.document).length, char)
    await when([document, capture.events], ['update', 'line'], { check: () => refusedSeen || text(document).length > before, what: `the server to apply or refuse ${char}` })
  }
  await refused
  assert.ok(text(document).length < 'hocuspocus!'.length, 'not every keystroke was applied')
  assert.ok(h.unsyncedChanges > 0, 'the provider keeps what was refused')
  await assert.rejects(direct.transact(doc => doc.getText('text').insert(0, 'server')), { code: 'FST_COLLAB_STORE_BACKLOG' })

  // y-websocket first holds what the server accepted, so that its 'Y' goes before all of it.
  await untilDocs([y.doc], () => text(y.doc) === text(document), { what: 'y-websocket to hold the accepted keystrokes' })
  const closed = when(y, 'connection-close', { predicate: event => event?.code === 1013, what: 'y-websocket closed with 1013' })
  y.doc.getText('text').insert(0, 'Y')
  await closed

  other.exec('COMMIT')
  const expected = doc => text(doc).startsWith('Y') && text(doc).endsWith('hocuspocus!') && text(doc).length === 12
  await untilDocs([document, h.document, y.doc], () => [document, h.document, y.doc].every(expected), { timeout: 20_000, what: 'every refused change to arrive' })
  await direct.transact(doc => doc.getText('text').insert(1, '-'))
  // What the store holds is what the clients held: a fresh load from it has every change.
  const unloaded = when(unloads, 'unload', { what: 'the document to unload' })
  await direct.disconnect()
  server.destroyAll()
  await unloaded
  const again = await server.app.collab.openDirectConnection('backlog')
  assert.equal(text(again.document), 'Y-hocuspocus!')
  await again.disconnect()
})
