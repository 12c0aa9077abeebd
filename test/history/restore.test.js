// Restoring content root by root (lib/history/restore.ts) and the text diff under it (text-diff.ts), on plain
// Y.Docs: every root kind, roots only one state has, embeds, identity of untouched text, and the coarser diffs
// a time budget falls back to.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { restoreContent } from '../../dist/lib/history/restore.js'
import { diffText } from '../../dist/lib/history/text-diff.js'
import { readDelta } from '../helpers/delta.js'

/** A copy of `doc` as a version is read back: decoded from its state, every root a bare AbstractType. */
function decoded (doc) {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  return copy
}

/** Restores `version` (a Y.Doc) into `live` in one transaction; returns what restoreContent did. */
function restore (live, version, diffTimeout = 250) {
  let done
  live.transact(() => { done = restoreContent(live, decoded(version), diffTimeout) })
  return done
}

test('every root kind is restored: Y.Text with formatting and embeds, Y.Map with nested types, Y.Array, Y.XmlFragment', () => {
  const live = new Y.Doc()
  live.getText('text').insert(0, 'Hello world')
  live.getMap('map').set('keep', 1)
  live.getMap('map').set('drop', 2)
  live.getArray('array').insert(0, ['a', 'b'])
  const paragraph = new Y.XmlElement('p')
  paragraph.insert(0, [new Y.XmlText('one')])
  live.getXmlFragment('xml').insert(0, [paragraph])
  const version = decoded(live)

  live.transact(() => {
    live.getText('text').insert(5, ',', { bold: true })
    live.getText('text').insertEmbed(0, { image: 'x.png' })
    live.getMap('map').delete('drop')
    live.getMap('map').set('new', new Y.Array())
    live.getArray('array').push(['c'])
    live.getXmlFragment('xml').insert(1, [new Y.XmlElement('hr')])
  })
  // The version's own edits: formatting and an embed it had that the live document lost.
  const wanted = decoded(version)
  wanted.getText('text').format(0, 5, { italic: true })
  wanted.getText('text').insertEmbed(11, { formula: 'e=mc²' }, { bold: true })

  const done = restore(live, wanted)
  assert.deepEqual(Object.fromEntries(done.map(({ name, kind, action }) => [name, `${kind} ${action}`])), {
    text: 'text diff', map: 'map replaced', array: 'array replaced', xml: 'xml replaced'
  })
  assert.deepEqual(readDelta(live.getText('text')), readDelta(wanted.getText('text')))
  assert.deepEqual(live.getMap('map').toJSON(), { keep: 1, drop: 2 })
  assert.deepEqual(live.getArray('array').toJSON(), ['a', 'b'])
  assert.equal(live.getXmlFragment('xml').toString(), '<p>one</p>')
  assert.deepEqual(restore(live, wanted).map(({ action }) => action), ['unchanged', 'unchanged', 'unchanged', 'unchanged'], 'a second restore changes nothing')
})

test('a root the version lacks is emptied; a root only the version has is made; a root empty in both is left alone', () => {
  const version = new Y.Doc()
  version.getText('only-then').insert(0, 'was here')
  version.getText('empty')
  const live = new Y.Doc()
  live.getMap('only-now').set('k', 'v')
  live.getArray('list-now').push([1])
  const done = restore(live, version)
  assert.equal(live.getText('only-then').toString(), 'was here')
  assert.equal(live.getMap('only-now').size, 0)
  assert.equal(live.getArray('list-now').length, 0)
  assert.ok(!done.some(({ name }) => name === 'empty'))
})

test('untouched text keeps its Yjs identity: its characters are the same items, relative positions resolve where they did', () => {
  const live = new Y.Doc()
  const text = live.getText('text')
  text.insert(0, 'alpha beta gamma delta')
  const version = decoded(live)
  text.delete(0, 6) // "alpha "
  text.insert(text.length, ' epsilon')
  const before = Y.createRelativePositionFromTypeIndex(text, text.toString().indexOf('gamma'))
  const done = restore(live, version)
  assert.deepEqual(done, [{ name: 'text', kind: 'text', action: 'diff', granularity: 'char' }])
  assert.equal(text.toString(), 'alpha beta gamma delta')
  const resolved = Y.createAbsolutePositionFromRelativePosition(before, live)
  assert.equal(text.toString().slice(resolved.index, resolved.index + 5), 'gamma')
  const now = Y.createRelativePositionFromTypeIndex(text, text.toString().indexOf('gamma'))
  assert.deepEqual(now.item, before.item, '"gamma" is the same Yjs item as before the restore')
})

test('diffText: runs spell both texts; past the time budget it falls back to lines, then to the changed middle', () => {
  const check = (from, to, { changes }) => {
    assert.equal(changes.filter((c) => c.type !== 'insert').map((c) => c.text).join(''), from)
    assert.equal(changes.filter((c) => c.type !== 'delete').map((c) => c.text).join(''), to)
    assert.ok(changes.every((c, i) => c.text !== '' && (i === 0 || c.type !== changes[i - 1].type)))
  }
  const small = diffText('the cat sat', 'the hat sat down')
  assert.equal(small.granularity, 'char')
  check('the cat sat', 'the hat sat down', small)
  assert.deepEqual(diffText('same', 'same').changes, [{ type: 'equal', text: 'same' }])
  assert.deepEqual(diffText('', 'new').changes, [{ type: 'insert', text: 'new' }])
  assert.deepEqual(diffText('😀a', '😀b').changes, [{ type: 'equal', text: '😀' }, { type: 'delete', text: 'a' }, { type: 'insert', text: 'b' }])
  assert.deepEqual(diffText('a😀', 'a😁').changes, [{ type: 'equal', text: 'a' }, { type: 'delete', text: '😀' }, { type: 'insert', text: '😁' }], 'a surrogate pair is never split')

  // Two unrelated texts of many lines: the character diff cannot finish within 1 ms.
  let seed = 1
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  const lines = (n) => Array.from({ length: n }, () => Array.from({ length: 40 }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('')).join('\n')
  const a = lines(2000)
  const b = a.split('\n').map((line, i) => i % 3 === 0 ? lines(1) : line).join('\n')
  const coarse = diffText(a, b, 1)
  assert.notEqual(coarse.granularity, 'char')
  check(a, b, coarse)
  const whole = diffText(lines(3000), lines(3000), 1)
  check(whole.changes.filter((c) => c.type !== 'insert').map((c) => c.text).join(''), whole.changes.filter((c) => c.type !== 'delete').map((c) => c.text).join(''), whole)
  assert.equal(whole.granularity, 'whole')
})

test('a restore under a time budget too small for the character diff is still exact', () => {
  let seed = 7
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  const word = () => Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('')
  const live = new Y.Doc()
  live.getText('text').insert(0, Array.from({ length: 20000 }, word).join(' '))
  const version = decoded(live)
  live.transact(() => {
    const text = live.getText('text')
    for (let i = 0; i < 500; i++) text.insert(Math.floor(random() * text.length), word())
  })
  const [done] = restore(live, version, 1)
  assert.notEqual(done.action, 'unchanged')
  assert.equal(live.getText('text').toString(), version.getText('text').toString())
})
