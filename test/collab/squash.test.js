// squashUpdate (lib/collab/protocol/merge.ts): what the edge sends the owner for one client's burst.
// Property (fast-check, seeded): for random histories of edits by several clients on text (with formatting
// and embeds), maps, arrays and XML, the squashed merge of a burst's updates gives the replica the same
// document as the updates one by one, clocks and delete sets included, and is never larger than the merge.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Y from 'yjs'

const { mergeInBatches, squashUpdate } = await import('../../dist/lib/collab/protocol/merge.js')

const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '\n', '😀'), minLength: 1, maxLength: 4 })
const key = fc.constantFrom('a', 'b')
const edit = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('type'), at: fc.nat(), text }), weight: 3 },
  // A keystroke where the client's last one left its cursor: the runs that squash.
  { arbitrary: fc.record({ op: fc.constant('next'), text: fc.constantFrom('a', 'é', '😀') }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('delete'), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('format'), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }), bold: fc.constantFrom(true, null) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('embed'), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('set'), key, value: fc.integer({ min: 0, max: 9 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('push'), values: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('remove'), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('xml'), at: fc.nat() }), weight: 1 }
)
// Who edits: client 0 most of the time (the edge's one client), the others' edits synced to it first.
const step = fc.record({ client: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.constantFrom(1, 2), weight: 1 }), edit })

const cursors = new WeakMap()

function apply (doc, { op, at, text, length, bold, key, value, values }) {
  const ytext = doc.getText('text')
  const array = doc.getArray('array')
  const xml = doc.getXmlFragment('xml')
  if (op === 'type' || op === 'next') {
    const index = op === 'type' ? at % (ytext.length + 1) : Math.min(cursors.get(doc) ?? 0, ytext.length)
    ytext.insert(index, text)
    cursors.set(doc, index + text.length)
  } else if (op === 'delete' && ytext.length > 0) ytext.delete(at % ytext.length, Math.min(length, ytext.length - at % ytext.length))
  else if (op === 'format' && ytext.length > 0) ytext.format(at % ytext.length, length, { bold })
  else if (op === 'embed') ytext.insertEmbed(at % (ytext.length + 1), { image: 'x.png' })
  else if (op === 'set') doc.getMap('map').set(key, value)
  else if (op === 'push') array.push(values)
  else if (op === 'remove' && array.length > 0) array.delete(at % array.length, 1)
  else if (op === 'xml') xml.insert(at % (xml.length + 1), [new Y.XmlText('t')])
}

const stateOf = (doc) => ({
  update: Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64'),
  text: doc.getText('text').toDelta(),
  map: doc.getMap('map').toJSON(),
  array: doc.getArray('array').toJSON(),
  xml: doc.getXmlFragment('xml').toString()
})

test('a squashed burst gives the same document as its updates one by one, and is never larger than their merge', () => {
  let smaller = 0
  fc.assert(fc.property(fc.array(step, { maxLength: 12 }), fc.array(step, { minLength: 1, maxLength: 40 }), (history, burst) => {
    const clients = [1, 2, 3].map((clientID) => Object.assign(new Y.Doc(), { clientID: clientID * 1_000_003 }))
    const sync = (from, to) => Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
    // Another client's edit reaches client 0 at once, and so becomes one of the updates client 0 sends
    // (its 'update' event), as a provider forwards what it learns.
    const play = (steps) => {
      for (const { client, edit } of steps) {
        if (client !== 0) sync(clients[0], clients[client])
        apply(clients[client], edit)
        if (client !== 0) sync(clients[client], clients[0])
      }
    }
    play(history)
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(clients[0]))
    const oneByOne = new Y.Doc()
    Y.applyUpdate(oneByOne, Y.encodeStateAsUpdate(clients[0]))
    const updates = []
    const record = (update) => updates.push(update)
    clients[0].on('update', record)
    play(burst)
    clients[0].off('update', record)
    if (updates.length === 0) return
    const merged = mergeInBatches(updates)
    const squashed = squashUpdate(merged)
    assert.ok(squashed.length <= merged.length, `squashed ${squashed.length} bytes, merged ${merged.length}`)
    if (squashed.length < merged.length) smaller++
    for (const update of updates) Y.applyUpdate(oneByOne, update)
    Y.applyUpdate(replica, squashed)
    // Against the updates one by one, not against client 0 itself: a client that splits a surrogate pair
    // (a format over half an emoji) keeps U+FFFD where its replicas keep the pair (Yjs ContentString.splice).
    assert.deepEqual(stateOf(replica), stateOf(oneByOne))
  }), { seed: 20261208, numRuns: 300 })
  // The property holds trivially for a squash that does nothing: half the bursts shrink with this seed.
  assert.ok(smaller > 100, `${smaller} of 300 bursts squashed`)
})

test('fifty typed characters cross as one struct: a byte or two each, against about 7 merged', () => {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'hello ')
  const replica = new Y.Doc()
  Y.applyUpdate(replica, Y.encodeStateAsUpdate(doc))
  const updates = []
  doc.on('update', (update) => updates.push(update))
  for (let i = 0; i < 50; i++) doc.getText('text').insert(6 + i, 'x')
  const merged = mergeInBatches(updates)
  const squashed = squashUpdate(merged)
  assert.deepEqual(Y.decodeUpdate(squashed).structs.map((struct) => struct.length), [50])
  assert.ok(squashed.length < 80, `${squashed.length} bytes`)
  assert.ok(merged.length > 5 * squashed.length, `merged ${merged.length} bytes, squashed ${squashed.length}`)
  Y.applyUpdate(replica, squashed)
  assert.equal(replica.getText('text').toString(), `hello ${'x'.repeat(50)}`)
})

test('an update with nothing to squash comes back as it was; bytes that are not an update throw', () => {
  const doc = new Y.Doc()
  doc.getMap('map').set('a', 1)
  const update = Y.encodeStateAsUpdate(doc)
  assert.equal(squashUpdate(update), update)
  assert.throws(() => squashUpdate(new Uint8Array([200, 200, 200, 200, 200, 200])))
})
