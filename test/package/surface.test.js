// The public surface, as an API report (api-extractor's idea): every declaration file reachable from
// the package's four entry points, and the names each exports, must match test/package/api.json. The
// build strips what is marked `@internal` (tsconfig.build.json `stripInternal`), so an internal module or
// declaration that a public type starts to reference shows up here as a difference, and so does any
// change of the public API. When the change is meant: UPDATE_API_REPORT=1 node --test test/package/surface.test.js
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { test } from 'node:test'

const dist = new URL('../../dist/lib/', import.meta.url).pathname
const report = new URL('./api.json', import.meta.url).pathname
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))

/** The .d.ts files of the package's `exports`, and every one they reference, transitively. */
function reachable () {
  const entries = Object.values(manifest.exports).flatMap((target) => typeof target === 'object' && target.types !== undefined ? [target.types] : [])
  const stack = entries.map((types) => join(new URL('../../', import.meta.url).pathname, types))
  const seen = new Set()
  while (stack.length > 0) {
    const file = stack.pop()
    if (seen.has(file)) continue
    seen.add(file)
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()['"](\.[^'"]+)['"]/g)) {
      const target = join(dirname(file), specifier.replace(/\.js$/, '.d.ts'))
      if (existsSync(target)) stack.push(target)
    }
  }
  return [...seen].sort()
}

function exportedNames (file) {
  return [...readFileSync(file, 'utf8').matchAll(/^export (?:declare )?(?:abstract )?(?:class|function|interface|type|const|enum|let|namespace) ([\w$]+)/gm)].map(([, name]) => name)
}

test('the declaration files reachable from the entry points hold the public API and nothing else (test/package/api.json)', () => {
  const files = reachable()
  const api = Object.fromEntries(files.map((file) => [relative(dist, file), exportedNames(file)]))
  if (process.env.UPDATE_API_REPORT === '1') writeFileSync(report, JSON.stringify(api, null, 2) + '\n')
  assert.deepEqual(api, JSON.parse(readFileSync(report, 'utf8')), 'the public API changed: if it is meant, run UPDATE_API_REPORT=1 node --test test/package/surface.test.js and commit api.json')
  for (const file of files) {
    assert.doesNotMatch(readFileSync(file, 'utf8'), /unique symbol/, `${relative(dist, file)}: the private state keys (lib/symbols.ts) stay out of the public types`)
  }
})
