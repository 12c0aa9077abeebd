// Type tests of the stores: fastify-collab/sqlite, fastify-collab/postgres and the fencing contract.
import Fastify from 'fastify'
import { expectTypeOf } from 'expect-type'
import pg from 'pg'
import fastifyCollab, { conflictError, fencedError, isConflict, isFenced, storageExtension, type CollabStorage, type ConflictError, type FencedError, type LogEntry } from 'fastify-collab'
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
expectTypeOf(new PostgresStorage({ connectionString: 'postgres://localhost/db' }).claim).returns.toEqualTypeOf<Promise<number>>()

// The fencing contract: claim is optional and issues the epoch; entries and compactions may carry one.
const unfenced: CollabStorage = {
  load: () => ({ snapshot: null, updates: [], seq: 0 }),
  append: (entries) => { expectTypeOf(entries).toEqualTypeOf<readonly LogEntry[]>() },
  compact: (_name, _state, _upToSeq, epoch) => { expectTypeOf(epoch).toEqualTypeOf<number | undefined>() },
  close: () => {}
}
expectTypeOf(storageExtension(unfenced).fencing).toEqualTypeOf<boolean>()
const fenced: CollabStorage = { ...unfenced, claim: async () => 1 }
expectTypeOf(storageExtension(fenced).claim).returns.toEqualTypeOf<Promise<number>>()
// @ts-expect-error: claim issues the epoch; it is not given one
storageExtension({ ...unfenced, claim: (_name: string, _epoch: number) => {} })
expectTypeOf<LogEntry['epoch']>().toEqualTypeOf<number | undefined>()
const error = fencedError(new Map([['doc', 3]]))
expectTypeOf(error).toEqualTypeOf<FencedError>()
expectTypeOf(error.documents).toEqualTypeOf<string[]>()
expectTypeOf(error.epoch).toEqualTypeOf<number>()
const unknownError: unknown = error
if (isFenced(unknownError)) expectTypeOf(unknownError.epochs).toEqualTypeOf<number[]>()
const conflict = conflictError(new Map([['doc', 7]]))
expectTypeOf(conflict).toEqualTypeOf<ConflictError>()
const unknownConflict: unknown = conflict
if (isConflict(unknownConflict)) expectTypeOf(unknownConflict.seqs).toEqualTypeOf<number[]>()
