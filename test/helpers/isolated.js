// Running the built package in a fresh Node process, to see which modules it loads and how it behaves
// when an optional peer dependency is not installed. The processes are synchronous, so each has a
// timeout: a test's own cannot fire while one blocks the loop.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './cleanup.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Runs `script` (an ES module) in a fresh process in the checkout, then tells whether any file of the
 * package `module` was loaded (through `require`, which is how the package loads its optional peers,
 * or through `import` of a CommonJS package: both fill the require cache).
 *
 * @param {string} module a package name, e.g. 'pg'
 * @param {string} script
 * @returns {boolean}
 */
export function loadedAfter (module, script) {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module'
    ${script}
    const cache = createRequire(import.meta.url).cache
    process.stdout.write(JSON.stringify(Object.keys(cache).some((path) => path.includes('/node_modules/${module}/'))))
  `], { cwd: root, encoding: 'utf8', timeout: 30_000 })
  return JSON.parse(out)
}

/**
 * Runs `script` against a copy of the built package (`./dist/lib/…`) in a temporary folder whose
 * node_modules holds only `modules` (links to the checkout's), so that every other package is missing.
 *
 * @param {import('node:test').TestContext} t
 * @param {string[]} modules package names, scoped ones included
 * @param {string} script
 * @returns {string} what the script wrote to stdout
 */
export function withModules (t, modules, script) {
  const dir = tempDir(t, 'isolated')
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  for (const name of modules) {
    const target = join(dir, 'node_modules', name)
    mkdirSync(dirname(target), { recursive: true })
    symlinkSync(join(root, 'node_modules', name), target)
  }
  return execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
}
