// Type tests of the stores: fastify-collab/sqlite, fastify-collab/postgres and the fencing contract.
import Fastify from 'fastify'
import { expectTypeOf } from 'expect-type'
import pg from 'pg'
import fastifyCollab, { fencedError, isFenced, storageExtension, type CollabStorage, type FencedError, type LogEntry } from 'fastify-collab'
import { sqlite, type SqliteDriverName } from 'fastify-collab/sqlite'
import { migrate, postgres, PostgresStorage } from 'fastify-collab/postgres'

const app = Fastify()
await app.register(fastifyCollab, {
  extensions: [
    sqlite({ path: './data/collab.db', driver: 'node:sqlite', busyTimeout: 10, maxBatchUpdates: 500, maxBatchBytes: 1 << 20 }),
    postgres({ connectionString: 'postgres://localhost/db', schema: 'collab', tablePrefix: 'app_', statementTimeout: 5000 }),
    postgres({ pool: new pg.Pool(), migrate: false })
  ]
})
expectTypeOf<SqliteDriverName>().toEqualTypeOf<'better-sqlite3' | 'node:sqlite'>()
// @ts-expect-error: only the two drivers
sqlite({ path: 'a.db', driver: 'sqlite3' })
expectTypeOf(sqlite({ path: 'a.db' }).fencing).toEqualTypeOf<boolean>()
expectTypeOf(migrate).parameter(0).toHaveProperty('connectionString')
expectTypeOf(new PostgresStorage({ connectionString: 'postgres://localhost/db' }).claim).returns.toEqualTypeOf<Promise<void>>()

// The fencing contract: claim is optional, entries and compactions may carry an epoch.
const unfenced: CollabStorage = {
  load: () => ({ snapshot: null, updates: [], seq: 0 }),
  append: (entries) => { expectTypeOf(entries).toEqualTypeOf<readonly LogEntry[]>() },
  compact: (_name, _state, _upToSeq, epoch) => { expectTypeOf(epoch).toEqualTypeOf<number | undefined>() },
  close: () => {}
}
expectTypeOf(storageExtension(unfenced).fencing).toEqualTypeOf<boolean>()
expectTypeOf<LogEntry['epoch']>().toEqualTypeOf<number | undefined>()
const error = fencedError(new Map([['doc', 3]]))
expectTypeOf(error).toEqualTypeOf<FencedError>()
expectTypeOf(error.documents).toEqualTypeOf<string[]>()
expectTypeOf(error.epoch).toEqualTypeOf<number>()
const unknownError: unknown = error
if (isFenced(unknownError)) expectTypeOf(unknownError.epochs).toEqualTypeOf<number[]>()
