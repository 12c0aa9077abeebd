// The error codes and close codes the documentation names exist in the code, and every one the code
// defines is on docs/errors.md, once (as Fastify checks its docs/Reference/Errors.md).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorCodes } from 'fastify'
import * as errors from '../../dist/lib/errors.js'
import { CloseCode } from '../../dist/lib/close-codes.js'
import { page, pages, where } from './markdown.js'

const errorsPage = page('docs/errors.md')

/** The rows of the tables of `text` whose first cell matches `cell`, as `{ first, cells }`. */
function rows (text, cell) {
  return [...text.matchAll(/^\|(.*)\|\s*$/gm)]
    .map((match) => match[1].split('|').map((part) => part.trim()))
    .filter((cells) => cell.test(cells[0]))
}

/** The text of `pageText` from the heading `heading` to the next heading of the same or a higher level. */
function section (pageText, heading) {
  const start = pageText.indexOf(`\n${heading}\n`)
  assert.notEqual(start, -1, `docs/errors.md has the heading "${heading}"`)
  const level = heading.match(/^#+/)[0]
  const rest = pageText.slice(start + heading.length + 2)
  const next = rest.search(new RegExp(`^#{1,${level.length}} `, 'm'))
  return next === -1 ? rest : rest.slice(0, next)
}

test('every error code of lib/errors.ts has exactly one row on docs/errors.md, and that page lists no other', () => {
  const defined = Object.keys(errors).filter((name) => name.startsWith('FST_'))
  assert.ok(defined.length > 40, `lib/errors.ts exports its codes (found ${defined.length})`)
  const listed = rows(errorsPage.text, /^`FST_COLLAB_[A-Z0-9_]+`$/).map(([first]) => first.slice(1, -1))
  for (const code of defined) {
    assert.equal(listed.filter((name) => name === code).length, 1, `${code} has one row on docs/errors.md`)
  }
  assert.deepEqual(listed.filter((name) => !defined.includes(name)), [], 'every row of docs/errors.md is a code of lib/errors.ts')
})

test('every status on docs/errors.md is the statusCode its error carries', () => {
  for (const [first, status] of rows(errorsPage.text, /^`FST_COLLAB_[A-Z0-9_]+`$/)) {
    const code = first.slice(1, -1)
    const error = new errors[code]('x', 'y', { cause: null })
    assert.equal(Number(status), error.statusCode, `the status of ${code}`)
  }
})

test('every FST_ code named in README.md, CONTRIBUTING.md or docs/ exists: ours in lib/errors.ts, Fastify\'s in its errorCodes', () => {
  let named = 0
  for (const doc of pages()) {
    for (const match of doc.text.matchAll(/\bFST_[A-Z0-9_]+\b/g)) {
      named++
      const code = match[0]
      const known = code.startsWith('FST_COLLAB_') ? code in errors : code in errorCodes
      assert.ok(known, `${where(doc, match.index)}: ${code} is not defined (${code.startsWith('FST_COLLAB_') ? 'lib/errors.ts' : 'Fastify\'s errorCodes'})`)
    }
  }
  assert.ok(named > 100, `the pages name error codes (found ${named})`)
})

test('every close code of lib/close-codes.ts has one row on docs/errors.md, under its CloseCode name', () => {
  const table = rows(section(errorsPage.text, '## Close codes'), /^\d{4}$/)
  for (const [name, code] of Object.entries(CloseCode)) {
    const matching = table.filter(([first]) => Number(first) === code)
    assert.equal(matching.length, 1, `close code ${code} has one row`)
    assert.equal(matching[0][1], `\`${name}\``, `close code ${code} is CloseCode.${name}`)
  }
})

test('every 1xxx or 4xxx close code the pages mention is one fastify-collab sends, or an RFC 6455 code docs/errors.md lists as sent by others', () => {
  const sent = new Set(Object.values(CloseCode))
  const others = rows(section(errorsPage.text, '### Codes a client sees that fastify-collab does not send'), /^\d{4}$/).map(([first]) => Number(first))
  // RFC 6455 §7.4.1 and the IANA registry define 1000–1003 and 1005–1015.
  const rfc = (code) => code >= 1000 && code <= 1015 && code !== 1004
  assert.ok(others.length > 0, 'docs/errors.md lists the codes others send')
  for (const code of others) {
    assert.ok(rfc(code) && !sent.has(code), `${code}, listed as sent by others, is an RFC 6455 code that fastify-collab does not send`)
  }
  let mentioned = 0
  for (const doc of pages()) {
    for (const match of doc.text.matchAll(/(?<![\d.,])(1\d{3}|4\d{3})(?!\d|[.,]\d)/g)) {
      const code = Number(match[1])
      // Only the ranges of close codes: 1000–1015 and 4000–4999; other numbers (a 1234 port) are not codes.
      if (code > 1015 && code < 4000) continue
      mentioned++
      assert.ok(sent.has(code) || others.includes(code), `${where(doc, match.index)}: close code ${code} is neither sent by fastify-collab (lib/close-codes.ts) nor listed on docs/errors.md`)
    }
  }
  assert.ok(mentioned > 50, `the pages mention close codes (found ${mentioned})`)
})
