// The documentation's relative links point at files that exist (and at headings that exist), and the
// files it names as evidence (a test, an example, a source file, a benchmark) exist.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { test } from 'node:test'
import { page, pages, root, where } from './markdown.js'

test('every relative link in README.md, CONTRIBUTING.md and docs/ resolves, and so does its #anchor', () => {
  let links = 0
  for (const doc of pages()) {
    for (const match of doc.prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]
      if (/^[a-z]+:/i.test(target)) continue
      links++
      const [path, anchor] = target.split('#')
      const file = path === '' ? doc.path : normalize(join(dirname(doc.path), path))
      assert.ok(!file.startsWith('..'), `${where(doc, match.index)}: ${target} leaves the repository`)
      assert.ok(existsSync(join(root, file)), `${where(doc, match.index)}: ${target} points at ${file}, which does not exist`)
      if (anchor !== undefined) {
        assert.ok(file.endsWith('.md'), `${where(doc, match.index)}: ${target}: an anchor into a file that is not Markdown`)
        assert.ok(page(file).anchors.has(anchor), `${where(doc, match.index)}: ${file} has no heading for #${anchor}`)
      }
    }
  }
  assert.ok(links > 50, `the pages link to each other (found ${links})`)
})

test('every test, example, source file and benchmark the pages name exists', () => {
  let named = 0
  for (const doc of pages()) {
    for (const match of doc.text.matchAll(/(?<![\w/.-])((?:test|examples|lib|bench|types|\.ci)\/[\w./-]*\.(?:js|ts|md)|\.ci\/run)(?![\w/-])/g)) {
      named++
      assert.ok(existsSync(join(root, match[1])), `${where(doc, match.index)}: ${match[1]} does not exist`)
    }
  }
  assert.ok(named > 50, `the pages name the tests that show what they say (found ${named})`)
})
