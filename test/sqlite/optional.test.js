import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './support.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

// In a fresh process, because this test process loads better-sqlite3 itself.
function loadedAfter (script) {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module'
    ${script}
    const cache = createRequire(import.meta.url).cache
    process.stdout.write(JSON.stringify(Object.keys(cache).some((path) => path.includes('better-sqlite3'))))
  `], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' })
  return JSON.parse(out)
}

test('better-sqlite3 is not loaded by the core, nor by importing fastify-collab/sqlite, only by opening a store', () => {
  assert.equal(loadedAfter("await import('fastify-collab')"), false)
  assert.equal(loadedAfter("await import('fastify-collab/sqlite')"), false)
  assert.equal(loadedAfter(`
    const { SqliteStorage } = await import('fastify-collab/sqlite')
    const { mkdtempSync, rmSync } = await import('node:fs')
    const dir = mkdtempSync((await import('node:os')).tmpdir() + '/fastify-collab-optional-')
    new SqliteStorage({ path: dir + '/a.db' }).close()
    rmSync(dir, { recursive: true })
  `), true)
})

test('without better-sqlite3 installed, sqlite() throws FST_COLLAB_SQLITE_MISSING', (t) => {
  // The built package next to every dependency it needs except better-sqlite3.
  const dir = tempDir(t)
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  mkdirSync(join(dir, 'node_modules', '@fastify'), { recursive: true })
  for (const name of ['yjs', 'lib0', '@fastify/error']) symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name))
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    const { sqlite } = await import('./dist/lib/sqlite/index.js')
    try {
      sqlite({ path: 'never-created.db' })
    } catch (error) {
      process.stdout.write(error.code)
    }
  `], { cwd: dir, encoding: 'utf8' })
  assert.equal(out, 'FST_COLLAB_SQLITE_MISSING')
})
