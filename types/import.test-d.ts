// Type tests of the import (issue 19 §6): importDocuments from every entry, importHocuspocus from fastify-collab/sqlite.
import { expectTypeOf } from 'expect-type'
import { importDocuments as fromMain, type ImportedDocument, type ImportResult } from 'fastify-collab'
import { importDocuments, importHocuspocus, SqliteStorage } from 'fastify-collab/sqlite'
import { importDocuments as fromPostgres, PostgresStorage } from 'fastify-collab/postgres'

expectTypeOf(fromMain).toEqualTypeOf(importDocuments)
expectTypeOf(fromPostgres).toEqualTypeOf(importDocuments)
const storage = new SqliteStorage({ path: 'collab.db' })
expectTypeOf(importDocuments(storage, [{ name: 'a', state: new Uint8Array() }])).toEqualTypeOf<Promise<ImportResult>>()
// Async iterables too, with force.
async function * documents (): AsyncGenerator<ImportedDocument> { yield { name: 'a', state: Buffer.alloc(2) } }
expectTypeOf(importDocuments(storage, documents(), { force: true })).resolves.toEqualTypeOf<{ imported: number, unchanged: number }>()
// @ts-expect-error: a state is bytes, not text
importDocuments(storage, [{ name: 'a', state: 'text' }])

expectTypeOf(importHocuspocus({ from: 'hocuspocus.sqlite', to: 'collab.db', driver: 'node:sqlite' })).resolves.toEqualTypeOf<ImportResult>()
expectTypeOf(importHocuspocus({ from: 'hocuspocus.sqlite', to: new PostgresStorage({ connectionString: 'postgres://localhost/db' }), force: true })).resolves.toEqualTypeOf<ImportResult>()
// @ts-expect-error: from is required
importHocuspocus({ to: 'collab.db' })
