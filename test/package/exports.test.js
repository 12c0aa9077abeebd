// The package as an app gets it (issue 19 §8): packed with `npm pack` (through the repository's
// prepack/postpack, .ci/pack-manifest.js), installed from the npm registry's cache into a fresh app
// folder, and loaded by the Node that runs this test: CI runs it on every supported Node.
import { execFile } from 'node:child_process'
import { accessSync, constants, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/cleanup.js'

const root = join(import.meta.dirname, '../..')
const repoManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
// A fresh process loads the package, or npm packs and installs it: seconds on a loaded machine, and no more.
const run = (file, args, options = {}) => promisify(execFile)(file, args, { timeout: 60_000, ...options })

/**
 * Packs the package as `npm pack` in this repository would, but from a copy of the files it ships (and of
 * the script its prepack runs), so that the working tree is never touched while other tests read it.
 * @returns {Promise<string>} the tarball's path.
 */
async function pack (t) {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root })
  const [{ files }] = JSON.parse(stdout)
  const source = tempDir(t, 'pack')
  for (const path of [...files.map((file) => file.path), 'package.json', '.ci/pack-manifest.js']) {
    mkdirSync(join(source, path, '..'), { recursive: true })
    cpSync(join(root, path), join(source, path))
  }
  const destination = tempDir(t, 'tarball')
  await run('npm', ['pack', '--pack-destination', destination], { cwd: source })
  assert.equal(readFileSync(join(source, 'package.json'), 'utf8'), readFileSync(join(root, 'package.json'), 'utf8'), 'postpack restored package.json')
  assert.equal(existsSync(join(source, '.package.json.orig')), false)
  const [tarball] = readdirSync(destination)
  return join(destination, tarball)
}

/** Paths a script names (`node .ci/x.js`, `tsc -p tsconfig.build.json`, `find test types …`), relative to the package. */
function pathsIn (command) {
  return command.split(/[\s"'`$()&|;<>=]+/).filter((token) =>
    token !== '' && !token.startsWith('-') && (token.includes('/') || /\.(c|m)?[jt]s$|\.json$/.test(token)))
}

// What a check script prints for one entry point: the names and kinds of the values it exports.
const describe = '(entry) => Object.fromEntries(Object.entries(entry).map(([name, value]) => [name, typeof value]).sort())'

test('the tarball installs into a fresh app, ships every file its manifest names, runs no script of ours, and every entry point loads with import and require', async (t) => {
  const tarball = await pack(t)
  const app = tempDir(t, 'app')
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  // redis: the optional peer dependency that fastify-collab/redis imports.
  const started = Date.now()
  await run('npm', ['install', tarball, 'fastify', 'redis', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app })
  t.diagnostic(`npm install took ${Date.now() - started} ms`)

  const installed = join(app, 'node_modules/fastify-collab')
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
  assert.equal(manifest.version, repoManifest.version)
  // A script that names a file the package does not ship (`prepare: node .ci/sqlite-driver.js …` did) is
  // run by nobody but npm, which lists `prepare` among the install scripts of a tarball it installs.
  for (const [name, command] of Object.entries(manifest.scripts ?? {})) {
    for (const path of pathsIn(command)) assert.ok(existsSync(join(installed, path)), `script "${name}" names ${path}, which is not shipped`)
  }
  const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin)]
  for (const target of Object.values(manifest.exports)) targets.push(...(typeof target === 'string' ? [target] : Object.values(target)))
  for (const target of targets) assert.ok(existsSync(join(installed, target)), `${target} is named in package.json but not shipped`)

  // The command of the package, as npx runs it (npm links it, executable, into node_modules/.bin).
  const bin = join(app, 'node_modules/.bin/fastify-collab-import-hocuspocus')
  accessSync(bin, constants.X_OK)
  const help = await run(process.execPath, [bin, '--help'], { cwd: app })
  assert.match(help.stdout, /^Usage: fastify-collab-import-hocuspocus --from/)

  const entries = ['fastify-collab', 'fastify-collab/sqlite', 'fastify-collab/postgres', 'fastify-collab/redis']
  writeFileSync(join(app, 'check.mjs'), `
    import Fastify from 'fastify'
    const entries = {}
    for (const name of ${JSON.stringify(entries)}) entries[name] = (${describe})(await import(name))
    const { default: manifest } = await import('fastify-collab/package.json', { with: { type: 'json' } })
    // The plugin registers in a Fastify 5 app of the app's own.
    const app = Fastify()
    await app.register((await import('fastify-collab')).default)
    await app.ready()
    await app.close()
    console.log(JSON.stringify({ entries, version: manifest.version, collab: typeof app.collab.handleConnection }))
  `)
  writeFileSync(join(app, 'check.cjs'), `
    const entries = {}
    for (const name of ${JSON.stringify(entries)}) entries[name] = (${describe})(require(name))
    console.log(JSON.stringify({ entries, version: require('fastify-collab/package.json').version }))
  `)
  const esm = JSON.parse((await run(process.execPath, ['check.mjs'], { cwd: app })).stdout)
  const cjs = JSON.parse((await run(process.execPath, ['check.cjs'], { cwd: app })).stdout)
  assert.deepEqual({ version: esm.version, collab: esm.collab }, { version: repoManifest.version, collab: 'function' })
  assert.equal(cjs.version, repoManifest.version)
  // require() of an ES module (Node >= 20.19) gives its namespace: the same names as import (__esModule aside).
  for (const name of entries) assert.deepEqual({ ...cjs.entries[name], __esModule: undefined }, { ...esm.entries[name], __esModule: undefined }, name)
  assert.equal(esm.entries['fastify-collab'].default, 'function')
  assert.equal(esm.entries['fastify-collab'].fastifyCollab, 'function')
  assert.equal(esm.entries['fastify-collab'].importDocuments, 'function')
  for (const name of ['sqlite', 'SqliteStorage', 'importHocuspocus', 'importDocuments']) assert.equal(esm.entries['fastify-collab/sqlite'][name], 'function', name)
  for (const name of ['postgres', 'PostgresStorage', 'migrate', 'importDocuments']) assert.equal(esm.entries['fastify-collab/postgres'][name], 'function', name)
  assert.equal(esm.entries['fastify-collab/redis'].redis, 'function')
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
