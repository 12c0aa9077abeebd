import { execFile } from 'node:child_process'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { promisify } from 'node:util'

// A fresh process loads the package: seconds on a loaded machine, and no more.
const run = (file, args) => promisify(execFile)(file, args, { timeout: 30_000 })

// Node >= 20.19 loads ES modules with require(): both forms must give the plugin.
test('the plugin is the default and the named export, with import and with require', async () => {
  const esm = await import('fastify-collab')
  assert.equal(typeof esm.default, 'function')
  assert.equal(esm.fastifyCollab, esm.default)
  assert.equal(esm.default[Symbol.for('fastify.display-name')], 'fastify-collab')
  const { stdout } = await run(process.execPath, ['-e', `
    const cjs = require('fastify-collab')
    console.log(JSON.stringify({
      same: cjs.default === cjs.fastifyCollab,
      name: cjs.default[Symbol.for('fastify.display-name')]
    }))
  `])
  assert.deepEqual(JSON.parse(stdout), { same: true, name: 'fastify-collab' })
})

test('the main entry never loads better-sqlite3', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module'
    await import('fastify-collab')
    const require = createRequire(import.meta.url)
    console.log(Object.keys(require.cache).some((file) => file.includes('better-sqlite3')))
  `])
  assert.equal(stdout.trim(), 'false')
})
