import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { sqlite } from 'fastify-collab/sqlite'
import { acknowledged, startCollabServer, synced } from '../helpers/server.js'
import { untilDocs, waitFor, when } from '../helpers/wait.js'
import { captureLog, readTables, tempDir } from './support.js'

test('Hocuspocus edits are in the log when acknowledged, and a restarted server loads them', async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const first = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const writer = first.hocus('notes')
  await synced(writer)
  const text = writer.document.getText('text')
  for (let i = 0; i < 20; i++) text.insert(text.length, `line ${i}\n`)
  await acknowledged(writer)
  const expected = text.toString()
  const onDisk = new Y.Doc()
  for (const row of readTables(path).updates) Y.applyUpdate(onDisk, row.data)
  assert.equal(onDisk.getText('text').toString(), expected, 'in the log by the time the client saw SyncStatus')
  first.drop(writer)
  await first.app.close()

  const second = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const reader = second.hocus('notes')
  await synced(reader)
  assert.equal(reader.document.getText('text').toString(), expected)
})

test('y-websocket edits survive a restart; the last disconnect compacts the log into the snapshot', async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const first = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const a = first.yws('room/α')
  const b = first.yws('room/α')
  await Promise.all([synced(a), synced(b)])
  a.doc.getText('text').insert(0, 'from a. ')
  b.doc.getText('text').insert(0, 'from b. ')
  const converged = () => a.doc.getText('text').toString() === b.doc.getText('text').toString() && a.doc.getText('text').length === 16
  await untilDocs([a.doc, b.doc], converged)
  const expected = a.doc.getText('text').toString()
  first.drop(a)
  first.drop(b)
  await first.app.close()
  const tables = readTables(path)
  assert.deepEqual(tables.updates, [], 'compacted on unload')
  assert.deepEqual(tables.snapshots.map((row) => row.document), ['room/α'])

  const second = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const c = second.yws('room/α')
  await synced(c)
  assert.equal(c.doc.getText('text').toString(), expected)
})

test('while the file is locked the acknowledgement waits and a coded error goes to the app log; it comes once the lock goes', async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const capture = captureLog()
  const server = await startCollabServer(t, { extensions: [sqlite({ path, retry: { initialDelay: 5, maxDelay: 20 } })] }, { fastify: { logger: capture.logger } })
  const writer = server.hocus('locked')
  await synced(writer)
  const other = new Database(path)
  t.after(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const failure = when(capture.events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_STORAGE_APPEND', what: 'a logged append failure' })
  writer.document.getText('text').insert(0, 'kept in memory')
  const [line] = await failure
  assert.equal(line.causeCode, 'SQLITE_BUSY')
  await when(capture.events, 'line', { predicate: (line) => line.err?.code === 'FST_COLLAB_STORAGE_APPEND', what: 'a second attempt' })
  assert.ok(writer.unsyncedChanges > 0, 'no SyncStatus yet')
  other.exec('COMMIT')
  await acknowledged(writer)
  assert.equal(readTables(path).updates.length, 1)
})

test('a document unloaded and loaded again in the same process continues its log after the snapshot', async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const server = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const first = server.hocus('again')
  await synced(first)
  first.document.getText('text').insert(0, 'one ')
  await acknowledged(first)
  server.drop(first)
  await waitFor(() => server.app.collab.getDocumentsCount() === 0, { what: 'the document to unload' })
  assert.deepEqual(readTables(path).snapshots.map((row) => row.seq), [1])

  const second = server.hocus('again')
  await synced(second)
  assert.equal(second.document.getText('text').toString(), 'one ')
  second.document.getText('text').insert(4, 'two')
  await acknowledged(second)
  assert.deepEqual(readTables(path).updates.map((row) => row.seq), [2])
  const expected = second.document.getText('text').toString()
  server.drop(second)
  await server.app.close()

  const restarted = await startCollabServer(t, { extensions: [sqlite({ path })] })
  const third = restarted.hocus('again')
  await synced(third)
  assert.equal(third.document.getText('text').toString(), expected)
})
