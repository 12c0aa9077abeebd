#!/usr/bin/env node
// `npx fastify-collab-import-hocuspocus --from hocuspocus.sqlite --to collab.sqlite`:
// the package's `bin`, a thin shell over importHocuspocus() (lib/sqlite/import-hocuspocus.ts).

import { parseArgs } from 'node:util'
import { importHocuspocus } from '../sqlite/import-hocuspocus.js'
import { PostgresStorage } from '../postgres/postgres-storage.js'
import type { SqliteDriverName } from '../sqlite/driver.js'

const USAGE = `Usage: fastify-collab-import-hocuspocus --from <hocuspocus.sqlite> --to <collab.sqlite | postgres://…> [--force] [--driver better-sqlite3|node:sqlite]

Copies every document of the SQLite file written by @hocuspocus/extension-sqlite (table "documents")
into a fastify-collab store, each as its snapshot: a SQLite file (created if missing) or, with a
postgres:// or postgresql:// URL, PostgreSQL (needs the pg package). Run it before fastify-collab
starts on the target. A document the target already holds with other content stops the import,
unless --force; one it holds with the same state is left alone, so a stopped import can be run again.

Exit status: 0 when every document was imported or already there; 1 on an error (its code and message
on stderr), documents before it staying imported; 2 when --from or --to is missing or an option is unknown.
`

const POSTGRES_URL = /^postgres(ql)?:\/\//

async function main (): Promise<number> {
  let values
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        force: { type: 'boolean', default: false },
        driver: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.from === undefined || values.to === undefined) {
    process.stderr.write(`--from and --to are required\n\n${USAGE}`)
    return 2
  }
  const { from, to, force } = values
  const driver = values.driver as SqliteDriverName | undefined
  try {
    const target = POSTGRES_URL.test(to) ? new PostgresStorage({ connectionString: to }) : to
    try {
      const { imported, unchanged } = await importHocuspocus({ from, to: target, force, driver })
      const where = typeof target === 'string' ? to : 'PostgreSQL'
      process.stdout.write(`Imported ${imported} document(s) from ${from} into ${where}` +
        (unchanged > 0 ? `; ${unchanged} were there already with the same state` : '') + '\n')
      return 0
    } finally {
      if (typeof target !== 'string') await target.close()
    }
  } catch (error) {
    const { code, message, cause } = error as { code?: string, message: string, cause?: { message?: string } }
    process.stderr.write(`${code ?? 'Error'}: ${message}${cause?.message === undefined ? '' : ` (${cause.message})`}\n`)
    return 1
  }
}

process.exitCode = await main()
