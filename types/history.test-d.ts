// Type tests of document history: createVersions from every entry, the version calls of the store contract.
import Fastify from 'fastify'
import { expectTypeOf } from 'expect-type'
import type * as Y from 'yjs'
import fastifyCollab, {
  createVersions, DEFAULT_RETENTION, storageExtension, thinVersions,
  type CollabStorage, type NewVersion, type RestoreResult, type RetentionTier, type VersionDiff, type VersionInfo, type Versions
} from 'fastify-collab'
import { createVersions as fromSqlite, SqliteStorage } from 'fastify-collab/sqlite'
import { createVersions as fromPostgres, PostgresStorage } from 'fastify-collab/postgres'

expectTypeOf(fromSqlite).toEqualTypeOf(createVersions)
expectTypeOf(fromPostgres).toEqualTypeOf(createVersions)

const storage = new SqliteStorage({ path: './data/collab.db' })
const history = createVersions({
  storage,
  interval: 5 * 60_000,
  author: (context) => typeof context.userId === 'string' ? context.userId : null,
  retention: [{ olderThan: 3_600_000, keepOnePer: 600_000 }],
  clock: { now: Date.now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) }
})
createVersions({ storage: new PostgresStorage({ connectionString: 'postgres://localhost/db' }), retention: false })
// @ts-expect-error: the store is required
createVersions({})

const app = Fastify()
await app.register(fastifyCollab, { extensions: [storageExtension(storage), history.extension] })
const versions = history.bind(app.collab)
expectTypeOf(versions).toEqualTypeOf<Versions>()
expectTypeOf(versions.create('doc', { label: 'v1', context: { user: 'ann' } })).resolves.toEqualTypeOf<VersionInfo>()
expectTypeOf(versions.list('doc', { limit: 10, before: 3 })).resolves.toEqualTypeOf<VersionInfo[]>()
expectTypeOf(versions.get('doc', 1)).resolves.toEqualTypeOf<Y.Doc>()
expectTypeOf(versions.diff('doc', 1, 'current')).resolves.toEqualTypeOf<VersionDiff>()
expectTypeOf(versions.restore('doc', 1, { context: { user: 'ann' } })).resolves.toEqualTypeOf<RestoreResult>()
expectTypeOf<VersionInfo['reason']>().toEqualTypeOf<'interval' | 'disconnect' | 'manual' | 'restore'>()
// @ts-expect-error: diff compares with 'current' only as its target
versions.diff('doc', 'current', 1)

expectTypeOf(thinVersions([{ id: 1, createdAt: 0, label: null }], Date.now(), DEFAULT_RETENTION)).toEqualTypeOf<number[]>()
expectTypeOf(DEFAULT_RETENTION).toEqualTypeOf<readonly RetentionTier[]>()

// The version calls are optional in the contract; a store may implement them.
const custom: CollabStorage = {
  load: () => ({ snapshot: null, updates: [], seq: 0 }),
  append: () => {},
  compact: () => {},
  close: () => {},
  putVersion: (version) => { expectTypeOf(version).toEqualTypeOf<NewVersion>(); return 1 },
  listVersions: async (_name, { limit, before }) => { expectTypeOf(limit).toEqualTypeOf<number>(); expectTypeOf(before).toEqualTypeOf<number | undefined>(); return [] },
  getVersion: () => null,
  deleteVersions: (_name, ids, epoch) => { expectTypeOf(ids).toEqualTypeOf<readonly number[]>(); expectTypeOf(epoch).toEqualTypeOf<number | undefined>() }
}
createVersions({ storage: custom })
