import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { NodeProcess } from '../helpers/child.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

test('the type tests in types/ compile', async (t) => {
  const compiler = new NodeProcess(t, [tsc, '-p', 'types/tsconfig.json'], { name: 'tsc', cwd: root })
  // tsc reads the whole program: tens of seconds on a loaded 2-core machine.
  const { code } = await compiler.exit({ timeout: 90_000 })
  assert.equal(code, 0, [...compiler.out, ...compiler.err].join('\n'))
})
