// The stores' drivers are optional: nothing loads them before a store opens, and a missing one gives a
// coded error (or, for SQLite on a runtime that has node:sqlite, the built-in driver).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tempDir } from '../helpers/cleanup.js'
import { loadedAfter, withModules } from '../helpers/isolated.js'
import { missing, runtimeHasNodeSqlite, sqliteDriver } from '../helpers/needs.js'

/** Runs `script` against the built package in a folder whose node_modules lacks the store drivers. */
function withoutDrivers (t, script) {
  return withModules(t, ['yjs', 'lib0', '@fastify/error', 'diff'], script)
}

test('better-sqlite3 is not loaded by the core, nor by importing fastify-collab/sqlite, only by opening a store on it', { skip: missing(sqliteDriver('better-sqlite3')) }, (t) => {
  assert.equal(loadedAfter('better-sqlite3', "await import('fastify-collab')"), false)
  assert.equal(loadedAfter('better-sqlite3', "await import('fastify-collab/sqlite')"), false)
  const path = JSON.stringify(join(tempDir(t, 'optional'), 'a.db'))
  assert.equal(loadedAfter('better-sqlite3', `
    const { SqliteStorage } = await import('fastify-collab/sqlite')
    new SqliteStorage({ path: ${path}, driver: 'better-sqlite3' }).close()
  `), true)
})

test('pg is not loaded by the core, nor by importing fastify-collab/postgres, only by a store made from a connection string', () => {
  assert.equal(loadedAfter('pg', "await import('fastify-collab')"), false)
  assert.equal(loadedAfter('pg', "await import('fastify-collab/postgres')"), false)
  assert.equal(loadedAfter('pg', `
    const { PostgresStorage } = await import('fastify-collab/postgres')
    await new PostgresStorage({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }).close()
  `), true)
})

test(runtimeHasNodeSqlite
  ? 'without better-sqlite3 installed, sqlite() runs on node:sqlite, and naming better-sqlite3 throws FST_COLLAB_SQLITE_MISSING'
  : 'without better-sqlite3 installed and no node:sqlite in this Node, sqlite() throws FST_COLLAB_SQLITE_MISSING', (t) => {
  const out = withoutDrivers(t, `
    const { SqliteStorage } = await import('./dist/lib/sqlite/index.js')
    const result = {}
    for (const driver of [undefined, 'better-sqlite3']) {
      try {
        const storage = new SqliteStorage({ path: 'a.db', driver })
        result[driver ?? 'default'] = storage.driver
        storage.close()
      } catch (error) {
        result[driver ?? 'default'] = error.code
      }
    }
    process.stdout.write(JSON.stringify(result))
  `)
  assert.deepEqual(JSON.parse(out), {
    default: runtimeHasNodeSqlite ? 'node:sqlite' : 'FST_COLLAB_SQLITE_MISSING',
    'better-sqlite3': 'FST_COLLAB_SQLITE_MISSING'
  })
})

test('without pg installed, postgres() throws FST_COLLAB_POSTGRES_MISSING for a connection string, and works with a given pool', (t) => {
  const out = withoutDrivers(t, `
    const { postgres } = await import('./dist/lib/postgres/index.js')
    const result = []
    try {
      postgres({ connectionString: 'postgres://localhost/db' })
    } catch (error) {
      result.push(error.code)
    }
    const pool = { query: async () => ({ rows: [] }), connect: async () => ({}), end: async () => {} }
    result.push(postgres({ pool }).fencing)
    process.stdout.write(JSON.stringify(result))
  `)
  assert.deepEqual(JSON.parse(out), ['FST_COLLAB_POSTGRES_MISSING', true])
})

// 13 crashes on Node 20 as it loads; 12 aborts on Node 24.19+. Node 22 to 24.18 runs both: nothing to refuse.
const [major, minor] = process.versions.node.split('.').map(Number)
const crashing = major < 22 ? '13.2.0' : (major > 24 || (major === 24 && minor >= 19)) ? '12.11.1' : null

test('a better-sqlite3 that crashes on this Node is refused from its version, before it loads: FST_COLLAB_SQLITE_UNSUPPORTED', { skip: crashing === null && `Node ${process.versions.node} runs better-sqlite3 12 and 13` }, (t) => {
  // A package with its version and no code: were it loaded, the error would be FST_COLLAB_SQLITE_MISSING.
  const out = withoutDrivers(t, `
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync('node_modules/better-sqlite3', { recursive: true })
    writeFileSync('node_modules/better-sqlite3/package.json', JSON.stringify({ name: 'better-sqlite3', version: '${crashing}', main: 'missing.js' }))
    const { SqliteStorage } = await import('./dist/lib/sqlite/index.js')
    try {
      new SqliteStorage({ path: 'a.db', driver: 'better-sqlite3' })
    } catch (error) {
      process.stdout.write(error.code)
    }
  `)
  assert.equal(out, 'FST_COLLAB_SQLITE_UNSUPPORTED')
})
