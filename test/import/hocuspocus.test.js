// Issue 19 §6: bringing documents over from Hocuspocus. The source databases
// are written by the real @hocuspocus/server 4.7 (its SQLite extension, and the
// generic database extension), fed by a real HocuspocusProvider; the imported
// store is then served by fastify-collab to real providers.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { Server } from '@hocuspocus/server'
import { Database } from '@hocuspocus/extension-database'
import { SQLite } from '@hocuspocus/extension-sqlite'
import { importDocuments, importHocuspocus, SqliteStorage, sqlite } from 'fastify-collab/sqlite'
import { PostgresStorage } from 'fastify-collab/postgres'
import { tempDir } from '../helpers/cleanup.js'
import { missing, postgresServer } from '../helpers/needs.js'
import { startPostgres } from '../helpers/postgres.js'
import { acknowledged, connectClients, listenCollab, synced } from '../helpers/server.js'

const require = createRequire(import.meta.url)
const run = (file, args, options = {}) => promisify(execFile)(file, args, { timeout: 30_000, ...options })
const CLI = join(import.meta.dirname, '../../dist/lib/cli/import-hocuspocus.js')

/** What the Hocuspocus-written databases hold: document name → its text. */
const TEXTS = { notes: 'written under Hocuspocus 4.7', 'Grüße/文档 1': 'a second document' }

/**
 * Runs @hocuspocus/server 4.7 with `extension` on 127.0.0.1, has one HocuspocusProvider per document
 * type its text, and stops the server once every change was acknowledged: its destroy() stores every
 * document (onStoreDocument) before it resolves.
 */
async function writeWithHocuspocus (extension) {
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions: [extension] })
  await server.listen()
  const providers = Object.entries(TEXTS).map(([name, text]) => {
    const provider = new HocuspocusProvider({ url: `ws://127.0.0.1:${server.address.port}`, name, document: new Y.Doc(), WebSocketPolyfill: WebSocket })
    provider.document.getText('text').insert(0, text)
    return provider
  })
  try {
    for (const provider of providers) {
      await synced(provider)
      await acknowledged(provider)
    }
  } finally {
    for (const provider of providers) provider.destroy()
    await server.destroy()
  }
}

/** The CLI of the package (its `bin`), run with `args`; resolves with its exit code and output. */
async function cli (...args) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args])
    return { code: 0, stdout, stderr }
  } catch (error) {
    return { code: error.code, stdout: error.stdout, stderr: error.stderr }
  }
}

/** Starts fastify-collab on the SQLite file `path` and resolves with each document's text as real providers see it. */
async function servedTexts (t, path, names = Object.keys(TEXTS)) {
  const { app, url } = await listenCollab({ extensions: [sqlite({ path })] })
  const clients = connectClients(url)
  t.after(async () => {
    clients.destroyAll()
    await app.close()
  })
  // Hocuspocus for the first document, y-websocket (its own route, the name in the path) for the others.
  const providers = names.map((name, i) => i === 0 ? clients.hocus(name) : clients.yws(name))
  await Promise.all(providers.map((provider) => synced(provider)))
  const texts = Object.fromEntries(names.map((name, i) => [name, (providers[i].document ?? providers[i].doc).getText('text').toString()]))
  return { app, clients, providers, texts }
}

// One database written by the real Hocuspocus, copied by the tests that change it.
const hocuspocusFile = join(tempDir({ after }), 'hocuspocus.sqlite')
before(() => writeWithHocuspocus(new SQLite({ database: hocuspocusFile })))

test('the CLI imports what @hocuspocus/extension-sqlite wrote, and fastify-collab serves it to Hocuspocus and y-websocket providers', async (t) => {
  const dir = tempDir(t)
  const to = join(dir, 'collab.sqlite')
  const first = await cli('--from', hocuspocusFile, '--to', to)
  assert.deepEqual(first, { code: 0, stdout: `Imported 2 document(s) from ${hocuspocusFile} into ${to}\n`, stderr: '' })
  const { texts } = await servedTexts(t, to)
  assert.deepEqual(texts, TEXTS)
})

test('run again, the import leaves identical documents alone, refuses one edited since, and overwrites it with --force', async (t) => {
  const dir = tempDir(t)
  const from = join(dir, 'hocuspocus.sqlite')
  copyFileSync(hocuspocusFile, from)
  const to = join(dir, 'collab.sqlite')
  assert.equal((await importHocuspocus({ from, to })).imported, 2)
  // Stopped half-way or not: a second run finds every document as it left it.
  assert.deepEqual(await importHocuspocus({ from, to }), { imported: 0, unchanged: 2 })

  // fastify-collab serves the imported store, and a client edits one document.
  const { app, providers } = await servedTexts(t, to, ['notes'])
  providers[0].document.getText('text').insert(0, 'edited: ')
  await acknowledged(providers[0])
  providers[0].destroy()
  await app.close()

  const refused = await cli('--from', from, '--to', to)
  assert.equal(refused.code, 1)
  assert.equal(refused.stderr, 'FST_COLLAB_IMPORT_EXISTS: Document "notes" already exists in the target store with other content: pass force to overwrite it\n')
  const storage = new SqliteStorage({ path: to })
  const stored = storage.load('notes')
  storage.close()
  const doc = new Y.Doc()
  for (const update of [stored.snapshot, ...stored.updates]) Y.applyUpdate(doc, update)
  assert.equal(doc.getText('text').toString(), `edited: ${TEXTS.notes}`, 'the refused import changed nothing')

  const forced = await cli('--from', from, '--to', to, '--force')
  assert.deepEqual(forced, { code: 0, stdout: `Imported 1 document(s) from ${from} into ${to}; 1 were there already with the same state\n`, stderr: '' })
  const { texts } = await servedTexts(t, to)
  assert.deepEqual(texts, TEXTS)
})

test('@hocuspocus/extension-database: importDocuments() reads each document through the app\'s own fetch', async (t) => {
  // The app's database, behind the generic extension's fetch and store.
  const rows = new Map()
  const fetch = async ({ documentName }) => rows.get(documentName) ?? null
  await writeWithHocuspocus(new Database({ fetch, store: async ({ documentName, state }) => { rows.set(documentName, state) } }))
  assert.deepEqual([...rows.keys()], Object.keys(TEXTS))

  async function * documents () {
    for (const name of rows.keys()) yield { name, state: await fetch({ documentName: name }) }
  }
  const path = join(tempDir(t), 'collab.sqlite')
  const storage = new SqliteStorage({ path })
  assert.deepEqual(await importDocuments(storage, documents()), { imported: 2, unchanged: 0 })
  storage.close()
  const { texts } = await servedTexts(t, path)
  assert.deepEqual(texts, TEXTS)
})

test('the CLI writes into PostgreSQL when --to is a postgres:// URL', { skip: missing(postgresServer) }, async (t) => {
  const server = await startPostgres()
  t.after(() => server.destroy())
  const imported = await cli('--from', hocuspocusFile, '--to', server.connectionString)
  assert.deepEqual(imported, { code: 0, stdout: `Imported 2 document(s) from ${hocuspocusFile} into PostgreSQL\n`, stderr: '' })
  const storage = new PostgresStorage({ connectionString: server.connectionString })
  t.after(() => storage.close())
  for (const [name, text] of Object.entries(TEXTS)) {
    const { snapshot, updates, seq } = await storage.load(name)
    assert.deepEqual({ updates, seq }, { updates: [], seq: 0 }, 'a snapshot at seq 0: the next update is appended as 1')
    const doc = new Y.Doc()
    Y.applyUpdate(doc, snapshot)
    assert.equal(doc.getText('text').toString(), text)
  }
})

test('the import refuses a missing or foreign source, a state that is not a Yjs update and a malformed entry, with coded errors', async (t) => {
  const dir = tempDir(t)
  const to = join(dir, 'collab.sqlite')

  const missing = await importHocuspocus({ from: join(dir, 'missing.sqlite'), to }).catch((error) => error)
  assert.deepEqual([missing.code, missing.cause.message], ['FST_COLLAB_IMPORT_SOURCE', 'no such file'])
  assert.equal(existsSync(to), false, 'nothing was created')
  // A fastify-collab file has no "documents" table.
  const foreignFile = join(dir, 'foreign.sqlite')
  new SqliteStorage({ path: foreignFile }).close()
  const foreign = await importHocuspocus({ from: foreignFile, to }).catch((error) => error)
  assert.deepEqual([foreign.code, foreign.cause.message],
    ['FST_COLLAB_IMPORT_SOURCE', 'no "documents" table with "name" and "data" columns, as @hocuspocus/extension-sqlite writes'])

  // The second row is not a Yjs update: the first is imported, the second refused, nothing after it.
  const from = join(dir, 'hocuspocus.sqlite')
  copyFileSync(hocuspocusFile, from)
  const BetterSqlite3 = require('better-sqlite3')
  const db = new BetterSqlite3(from)
  db.prepare('UPDATE documents SET data = ? WHERE name = ?').run(Buffer.from('not a Yjs update'), 'Grüße/文档 1')
  db.close()
  await assert.rejects(importHocuspocus({ from, to }), { code: 'FST_COLLAB_IMPORT_INVALID_STATE', message: 'The state of document "Grüße/文档 1" is not a Yjs update' })
  const storage = new SqliteStorage({ path: to })
  t.after(() => storage.close())
  assert.notEqual(storage.load('notes').snapshot, null)
  assert.deepEqual(storage.load('Grüße/文档 1'), { snapshot: null, updates: [], seq: 0 })

  const state = Y.encodeStateAsUpdate(new Y.Doc())
  await assert.rejects(importDocuments(storage, [{ name: '', state }]), { code: 'FST_COLLAB_IMPORT_INVALID_DOCUMENT', message: 'Cannot import this document: name must be a non-empty string' })
  await assert.rejects(importDocuments(storage, [{ name: 'gone', state: null }]), {
    code: 'FST_COLLAB_IMPORT_INVALID_DOCUMENT',
    message: 'Cannot import this document: the state of "gone" must be a Uint8Array (a Yjs update), got null'
  })

  const usage = await cli('--to', to)
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /^--from and --to are required\n\nUsage: fastify-collab-import-hocuspocus --from/)
})
