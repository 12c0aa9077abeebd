// The table of docs/limits.md against the code: every option it names exists with the default it
// states, and every bound the code defines (lib/collab/limits.ts, and the names a refusal is counted
// under, lib/names.ts) has its row.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { LIMIT_DEFAULTS } from '../../dist/lib/collab/limits.js'
import { resolveUpgradeOptions } from '../../dist/lib/upgrade/options.js'
import { resolveScaleOutOptions } from '../../dist/lib/scale-out/options.js'
import { page, root } from './markdown.js'

const HEADER = '| option | default | unit | past it | close code | metric |'

/** The rows of the one table of docs/limits.md: `{ option, defaultCell, metric }`. */
function tableRows () {
  const { text } = page('docs/limits.md')
  const start = text.indexOf(`\n${HEADER}\n`)
  assert.notEqual(start, -1, `docs/limits.md has a table headed ${HEADER}`)
  assert.equal(text.indexOf(`\n${HEADER}\n`, start + 1), -1, 'docs/limits.md has one such table')
  const lines = text.slice(start + HEADER.length + 2).split('\n')
  const rows = []
  for (const line of lines.slice(1)) {
    if (!line.startsWith('|')) break
    const cells = line.slice(1, -1).split(' | ').map((cell) => cell.trim())
    assert.equal(cells.length, 6, `a row of six cells: ${line}`)
    const option = /^`([\w.]+)`/.exec(cells[0])
    assert.ok(option !== null, `the first cell names an option: ${cells[0]}`)
    rows.push({ option: option[1], defaultCell: cells[1], metric: cells[5] })
  }
  return rows
}

/** Every default, as the code resolves it, of the options the table may name. */
function resolvedDefaults () {
  const upgrade = resolveUpgradeOptions({})
  const scaleOut = resolveScaleOutOptions({ url: 'redis://127.0.0.1:6379' })
  return new Map([
    ...Object.entries(LIMIT_DEFAULTS),
    ['ws.maxPayload', upgrade.ws.maxPayload],
    ['maxBufferedAmount', upgrade.maxBufferedAmount],
    ['allowedOrigins', upgrade.allowedOrigins],
    ['maxLinkBytes', scaleOut.maxLinkBytes]
  ])
}

/** The names of a string-literal union type `type` declared in lib/names.ts. */
function unionOf (type) {
  const source = readFileSync(join(root, 'lib/names.ts'), 'utf8')
  const declaration = new RegExp(`export type ${type} =([^]*?)(?:\\n\\n|\\n/\\*\\*|$)`).exec(source)
  assert.ok(declaration !== null, `lib/names.ts declares ${type}`)
  return [...declaration[1].matchAll(/'(\w+)'/g)].map((match) => match[1])
}

test('every option in the table of docs/limits.md exists, with the default the table states', () => {
  const defaults = resolvedDefaults()
  const rows = tableRows()
  assert.ok(rows.length >= Object.keys(LIMIT_DEFAULTS).length, 'the table has a row per bound')
  for (const { option, defaultCell } of rows) {
    assert.ok(defaults.has(option), `${option} is an option the code resolves`)
    const value = defaults.get(option)
    if (value === null) {
      assert.match(defaultCell, /^every /, `${option}: no default value, and the table says what that allows`)
    } else {
      assert.equal(Number(defaultCell.replace(/,/g, '').match(/^\d+/)?.[0]), value, `${option}: the default the table states`)
    }
  }
})

test('every bound of the code has a row in docs/limits.md, with the metric that counts its refusals', () => {
  const rows = new Map(tableRows().map((row) => [row.option, row]))
  const collabLimits = unionOf('CollabLimitName')
  assert.deepEqual([...collabLimits].sort(), Object.keys(LIMIT_DEFAULTS).sort(), 'lib/names.ts and lib/collab/limits.ts name the same collab bounds')
  const refusing = unionOf('LimitName')
  assert.ok(refusing.length > 0, 'LimitName adds the upgrade layer\'s bounds')
  for (const name of [...collabLimits, ...refusing]) {
    assert.ok(rows.has(name), `${name} has a row in docs/limits.md`)
    assert.ok(rows.get(name).metric.includes(`collab_limit_refusals_total{limit="${name}"}`), `${name}: its row names its refusal counter`)
  }
})
