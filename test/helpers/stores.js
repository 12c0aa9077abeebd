// Every store the storage suite runs over, on this runtime, behind one
// shape, so that each test is written once and runs unchanged on:
// - SQLite through better-sqlite3;
// - SQLite through node:sqlite, when the runtime has it (Node 24, recent 22);
// - PostgreSQL, on a real server started for the test file.
// A store whose driver or server is missing here gives its tests a `skip` (see needs.js): a skip
// with the reason locally, a failure under CI=true.
import { after } from 'node:test'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import pg from 'pg'
import { SqliteStorage, sqlite } from 'fastify-collab/sqlite'
import { PostgresStorage, postgres } from 'fastify-collab/postgres'
import { missing, postgresServer, runtimeHasNodeSqlite, sqliteDriver } from './needs.js'
import { startPostgres } from './postgres.js'
import { tempDir } from './cleanup.js'

const require = createRequire(import.meta.url)

/**
 * A second connection to a SQLite file through `driver`, as another process would have.
 * @param {'better-sqlite3' | 'node:sqlite'} driver
 * @param {string} path
 * @param {{ readonly?: boolean }} [options]
 * @returns {{ all: (sql: string, ...params: unknown[]) => object[], exec: (sql: string) => void, close: () => void }}
 */
export function openSqlite (driver, path, { readonly = false } = {}) {
  const db = driver === 'node:sqlite'
    ? new (require('node:sqlite').DatabaseSync)(path, { readOnly: readonly })
    : new (require('better-sqlite3'))(path, { readonly })
  return {
    // node:sqlite gives rows without a prototype; plain objects compare equal to literals.
    all: (sql, ...params) => db.prepare(sql).all(...params).map((row) => ({ ...row })),
    exec: (sql) => { db.exec(sql) },
    close: () => db.close()
  }
}

function sqliteStore (driver) {
  return {
    name: `sqlite (${driver})`,
    kind: 'sqlite',
    driver,
    skip: missing(sqliteDriver(driver)),
    async open (t) {
      const path = join(tempDir(t, 'store'), 'store.db')
      return {
        path,
        config: { kind: 'sqlite', path, driver },
        storage: (options = {}) => new SqliteStorage({ path, driver, ...options }),
        extension: (options = {}) => sqlite({ path, driver, ...options }),
        async tables () {
          const db = openSqlite(driver, path, { readonly: true })
          try {
            return {
              updates: db.all('SELECT document, seq, data FROM collab_updates ORDER BY document, seq'),
              snapshots: db.all('SELECT document, seq, state FROM collab_snapshots ORDER BY document'),
              fences: db.all('SELECT document, epoch FROM collab_fences ORDER BY document')
            }
          } finally {
            db.close()
          }
        },
        // Another connection holds the write lock: every write fails at once with SQLITE_BUSY.
        async lock () {
          const db = openSqlite(driver, path)
          db.exec('BEGIN EXCLUSIVE')
          return { release: async () => { db.exec('COMMIT'); db.close() } }
        },
        lockOptions: {},
        lockedCode: /^SQLITE_BUSY/
      }
    }
  }
}

// One server per test file (each file is its own process), started on first use.
let server = null
after(async () => { await (await server)?.destroy() })
let schemas = 0

const postgresStore = {
  name: 'postgres',
  kind: 'postgres',
  skip: missing(postgresServer),
  async open (t) {
    server ??= startPostgres()
    const running = await server
    const { connectionString } = running
    // Each test gets its own schema: the store's namespacing keeps tests apart on one server.
    const schema = `t${process.pid}_${++schemas}`
    const admin = new pg.Pool({ connectionString, max: 2 })
    admin.on('error', () => {})
    // A lock still held at the end is released first: the pool's end() waits for its client.
    const locks = new Set()
    t.after(async () => {
      for (const release of locks) await release()
      await admin.end()
    })
    const rows = async (sql) => {
      try {
        return (await admin.query(sql)).rows
      } catch (error) {
        if (error.code === '42P01') return [] // the store has not created its tables yet
        throw error
      }
    }
    return {
      server: running,
      schema,
      admin,
      config: { kind: 'postgres', connectionString, schema },
      storage: (options = {}) => new PostgresStorage({ connectionString, schema, ...options }),
      extension: (options = {}) => postgres({ connectionString, schema, ...options }),
      async tables () {
        // bigint columns arrive as strings.
        return {
          updates: (await rows(`SELECT document, seq, data FROM "${schema}".collab_updates ORDER BY document, seq`))
            .map(({ document, seq, data }) => ({ document, seq: Number(seq), data })),
          snapshots: (await rows(`SELECT document, seq, state FROM "${schema}".collab_snapshots ORDER BY document`))
            .map(({ document, seq, state }) => ({ document, seq: Number(seq), state })),
          fences: (await rows(`SELECT document, epoch FROM "${schema}".collab_fences ORDER BY document`))
            .map(({ document, epoch }) => ({ document, epoch: Number(epoch) }))
        }
      },
      // Another session holds the tables: the store's statements wait until its statement_timeout
      // (lockOptions) cancels them with 57014, and are retried.
      async lock () {
        const client = await admin.connect()
        await client.query('BEGIN')
        await client.query(`LOCK TABLE "${schema}".collab_updates, "${schema}".collab_snapshots IN ACCESS EXCLUSIVE MODE`)
        const release = async () => {
          if (!locks.delete(release)) return
          await client.query('COMMIT')
          client.release()
        }
        locks.add(release)
        return { release }
      },
      lockOptions: { statementTimeout: 250 },
      lockedCode: /^57014$/
    }
  }
}

/**
 * The stores of this runtime: SQLite on better-sqlite3, on node:sqlite where the runtime has it, and
 * PostgreSQL. A test on `store` passes `{ skip: store.skip }`; `store.open(t)` gives it a fresh
 * {@link Backend} (a new file, or a new schema).
 */
export const stores = [...['better-sqlite3', ...(runtimeHasNodeSqlite ? ['node:sqlite'] : [])].map(sqliteStore), postgresStore]

/** The SQLite stores of this runtime. */
export const sqliteStores = stores.filter((store) => store.kind === 'sqlite')

/**
 * @typedef {object} Backend
 * @property {object} config what a child process needs to open the same store (test/fixtures/store-worker.js).
 * @property {(options?: object) => import('fastify-collab').CollabStorage} storage a new connection each call.
 * @property {(options?: object) => import('fastify-collab').StorageExtension} extension `sqlite()` or `postgres()` on it.
 * @property {() => Promise<{ updates: object[], snapshots: object[], fences: object[] }>} tables read through another connection.
 * @property {() => Promise<{ release: () => Promise<void> }>} lock makes writes fail until released, with `lockOptions` given to the store.
 * @property {object} lockOptions
 * @property {RegExp} lockedCode the `causeCode` logged while locked.
 */
