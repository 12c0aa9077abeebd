// What only the PostgreSQL store has: a server that goes away, connections cut, the schema and its
// namespace, the session's synchronous_commit, and the one-statement group commit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import * as Y from 'yjs'
import { PostgresStorage, migrate, postgres } from 'fastify-collab/postgres'
import { waitFor, within } from '../helpers/wait.js'
import { stores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'
import { change, loaded, logged, track, typedUpdates } from '../helpers/storage.js'

const store = stores.find((candidate) => candidate.kind === 'postgres')
const retry = { initialDelay: 5, maxDelay: 50 }

/** A real pg.Pool that records the text of every query made through `pool.query`. */
function recordingPool (t, connectionString) {
  const real = new pg.Pool({ connectionString, max: 2 })
  real.on('error', () => {})
  t.after(() => real.end())
  const queries = []
  return {
    queries,
    pool: {
      query (text, values) {
        queries.push(text)
        return real.query(text, values)
      },
      connect: () => real.connect(),
      end: () => real.end()
    }
  }
}

test('postgres: the updates of one turn, across documents, are one statement (one round trip)', { skip: store.skip }, async (t) => {
  const backend = await store.open(t)
  const { pool, queries } = recordingPool(t, backend.server.connectionString)
  const extension = postgres({ pool, schema: backend.schema })
  t.after(() => extension.onDestroy())
  const docs = { a: await loaded(extension, 'a'), b: await loaded(extension, 'b') }
  const before = queries.length
  const acks = []
  for (const [name, doc] of Object.entries(docs)) {
    for (const update of typedUpdates(50, name).updates) acks.push(extension.onChange(change(name, doc, update)))
  }
  await Promise.all(acks)
  assert.equal(queries.length - before, 1, 'one INSERT … unnest for 100 updates of two documents')
  assert.match(queries.at(-1), /INSERT INTO "[^"]+"\."collab_updates"/)
  assert.equal((await backend.tables()).updates.length, 100)
})

test('postgres: a connection cut mid-statement (pg_terminate_backend): logged with its SQLSTATE, retried on a new connection, nothing lost', { skip: store.skip, timeout: 30_000 }, async (t) => {
  const backend = await store.open(t)
  const capture = captureLog()
  const extension = backend.extension({ retry, log: capture.log })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  const lock = await backend.lock()
  const ack = extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
  const state = track(ack)
  // The store's append now waits for the lock (no event says so: ask the server).
  const waiting = "SELECT pid FROM pg_stat_activity WHERE application_name = 'fastify-collab' AND wait_event_type = 'Lock'"
  await waitFor(async () => (await backend.admin.query(waiting)).rows.length > 0, { what: 'the append to wait for the lock' })
  const cut = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  await backend.admin.query(`SELECT pg_terminate_backend(pid) FROM (${waiting}) AS w`)
  assert.equal((await cut).causeCode, '57P01', 'admin_shutdown: terminating connection due to administrator command')
  assert.equal(state.settled, false)
  await lock.release()
  await within(ack, { timeout: 10_000, what: 'the acknowledgement once the lock is released' })
  assert.equal((await backend.tables()).updates.length, 1)
})

test('postgres: a server that is down: the load fails with a code; appends wait, logged, and commit when it is back', { skip: store.skip, timeout: 60_000 }, async (t) => {
  const backend = await store.open(t)
  const { server } = backend
  const capture = captureLog()
  const extension = backend.extension({ retry, log: capture.log })
  t.after(() => extension.onDestroy())
  const doc = await loaded(extension)
  await server.stop()
  t.after(() => server.pid === null && server.start())

  await assert.rejects(extension.onLoadDocument({ documentName: 'other', document: new Y.Doc() }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_STORAGE_LOAD')
    assert.equal(error.cause.code, 'ECONNREFUSED')
    return true
  })
  const down = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  const { updates, doc: source } = typedUpdates(5)
  const acks = updates.map((update) => extension.onChange(change('doc', doc, update)))
  const states = acks.map(track)
  assert.equal((await down).causeCode, 'ECONNREFUSED')
  await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
  assert.ok(states.every((state) => !state.settled), 'no acknowledgement while the server is down')

  await server.start()
  await within(Promise.all(acks), { timeout: 10_000, what: 'every acknowledgement once the store is back' })
  const restored = await loaded(backend.extension(), 'doc')
  assert.equal(restored.getText('text').toString(), source.getText('text').toString())
})

test('postgres: migrate() creates the namespaced tables; with migrate: false nothing is created until it runs', { skip: store.skip }, async (t) => {
  const backend = await store.open(t)
  const { connectionString } = backend.server
  const options = { connectionString, schema: `${backend.schema}_m`, tablePrefix: 'app_collab_' }
  const extension = postgres({ ...options, migrate: false })
  t.after(() => extension.onDestroy())
  await assert.rejects(extension.onLoadDocument({ documentName: 'doc', document: new Y.Doc() }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_STORAGE_LOAD')
    assert.match(error.cause.code, /^3F000|42P01$/, 'no schema, no table')
    return true
  })

  // Several instances migrating at once do not collide (advisory lock); running it again is harmless.
  await Promise.all([migrate(options), migrate(options), migrate(options)])
  await migrate(options)
  const tables = await backend.admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [options.schema])
  assert.deepEqual(tables.rows.map((row) => row.table_name), ['app_collab_fences', 'app_collab_snapshots', 'app_collab_updates', 'app_collab_versions'])
  await loaded(extension)
})

test('postgres: stores in different schemas or with different prefixes on one database keep apart', { skip: store.skip }, async (t) => {
  const backend = await store.open(t)
  const { connectionString } = backend.server
  const stores = [
    new PostgresStorage({ connectionString, schema: backend.schema }),
    new PostgresStorage({ connectionString, schema: backend.schema, tablePrefix: 'other_' }),
    new PostgresStorage({ connectionString, schema: `${backend.schema}_b` })
  ]
  t.after(() => Promise.all(stores.map((storage) => storage.close())))
  for (const [i, storage] of stores.entries()) await storage.append([{ documentName: 'doc', seq: 1, update: new Uint8Array([i]) }])
  for (const [i, storage] of stores.entries()) assert.deepEqual((await storage.load('doc')).updates.map((u) => [...u]), [[i]])
})

test('postgres: a session with synchronous_commit = off is refused with FST_COLLAB_POSTGRES_ASYNC_COMMIT', { skip: store.skip }, async (t) => {
  const backend = await store.open(t)
  const role = `${backend.schema}_async`
  await backend.admin.query(`CREATE ROLE ${role} LOGIN`)
  await backend.admin.query(`ALTER ROLE ${role} SET synchronous_commit = off`)
  const connectionString = backend.server.connectionString.replace('postgres@', `${role}@`)
  const extension = postgres({ connectionString, migrate: false })
  t.after(() => extension.onDestroy())
  await assert.rejects(extension.onLoadDocument({ documentName: 'doc', document: new Y.Doc() }), (error) => {
    assert.equal(error.code, 'FST_COLLAB_STORAGE_LOAD')
    assert.equal(error.cause.code, 'FST_COLLAB_POSTGRES_ASYNC_COMMIT')
    return true
  })
})

test('postgres: bad options throw a coded TypeError before any connection', () => {
  const connectionString = 'postgres://nobody@127.0.0.1:1/none'
  const pool = { query: async () => ({ rows: [] }), connect: async () => ({}), end: async () => {} }
  const bad = [
    {}, { connectionString, pool }, { connectionString: '' }, { pool: {} },
    { connectionString, schema: '1x' }, { connectionString, schema: 'a"b' }, { connectionString, tablePrefix: 'x-' },
    { connectionString, migrate: 'yes' }, { connectionString, poolSize: 0 }, { connectionString, statementTimeout: -1 },
    { connectionString, connectionTimeout: 1.5 }
  ]
  for (const options of bad) {
    assert.throws(() => new PostgresStorage(options), (error) => error instanceof TypeError && error.code === 'FST_COLLAB_INVALID_OPTION', JSON.stringify(options))
  }
})
