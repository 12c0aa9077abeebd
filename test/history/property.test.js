// Property (fast-check, seeded), on every store: for random editing histories of a Y.Text (with formatting)
// and a Y.Map of Y.Arrays, with versions taken along the way, restoring any version, in any order, yields
// exactly that version's content, on the live document and in the store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Y from 'yjs'
import { createVersions, storageExtension } from 'fastify-collab'
import { startCollabServer } from '../helpers/server.js'
import { stores } from '../helpers/stores.js'
import { fakeClock } from '../helpers/clock.js'
import { readDelta } from '../helpers/delta.js'

const key = fc.constantFrom('a', 'b', 'c')
const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '\n', '😀'), minLength: 1, maxLength: 6 })
const edit = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('insert'), at: fc.nat(), text, bold: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('delete'), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('format'), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }), attributes: fc.constantFrom({ bold: true }, { bold: null }, { italic: true }, { italic: null, bold: true }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('set'), key, values: fc.array(fc.integer({ min: -9, max: 99 }), { maxLength: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('push'), key, value: fc.integer({ min: -9, max: 99 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('remove'), key, at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('unset'), key }), weight: 1 },
  { arbitrary: fc.constant({ op: 'version' }), weight: 2 }
)

function apply (doc, step) {
  const ytext = doc.getText('text')
  const lists = doc.getMap('lists')
  const len = ytext.length
  switch (step.op) {
    case 'insert': return ytext.insert(step.at % (len + 1), step.text, step.bold ? { bold: true } : {})
    case 'delete': return len > 0 && ytext.delete(step.at % len, Math.min(step.length, len - step.at % len))
    case 'format': return len > 0 && ytext.format(step.at % len, Math.min(step.length, len - step.at % len), step.attributes)
    case 'set': {
      const array = new Y.Array()
      array.insert(0, step.values)
      return lists.set(step.key, array)
    }
    case 'push': return lists.get(step.key)?.push([step.value])
    case 'remove': {
      const array = lists.get(step.key)
      return array !== undefined && array.length > 0 && array.delete(step.at % array.length, 1)
    }
    case 'unset': return lists.delete(step.key)
  }
}

const content = (doc) => JSON.stringify({ text: readDelta(doc.getText('text')), lists: doc.getMap('lists').toJSON() })

for (const store of stores) {
  test(`${store.name}: property: restoring any version of a random history yields exactly its content`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    const history = createVersions({ storage, clock: fakeClock() })
    const server = await startCollabServer(t, { extensions: [storageExtension(storage), history.extension] })
    const versions = history.bind(server.app.collab)
    let run = 0
    await fc.assert(fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 30 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), async (steps, picks) => {
      const name = `history-${++run}`
      const connection = await server.app.collab.openDirectConnection(name)
      try {
        const taken = []
        for (const step of [...steps, { op: 'version' }]) {
          if (step.op === 'version') {
            const version = await versions.create(name)
            taken.push({ id: version.id, content: content(connection.document) })
          } else {
            await connection.transact((doc) => { apply(doc, step) })
          }
        }
        for (const pick of picks) {
          const { id, content: expected } = taken[pick % taken.length]
          const { saved, roots } = await versions.restore(name, id)
          assert.equal(content(connection.document), expected, `live content after restoring version ${id}`)
          const text = roots.find((root) => root.name === 'text')
          assert.notEqual(text?.action, 'replaced', 'the text restored by a diff, not replaced')
          assert.equal(content(await versions.get(name, id)), expected, 'the version itself')
          taken.push({ id: saved.id, content: content(await versions.get(name, saved.id)) })
        }
        // The store holds what the live document holds.
        const stored = await storage.load(name)
        const doc = new Y.Doc()
        if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
        for (const update of stored.updates) Y.applyUpdate(doc, update)
        assert.equal(content(doc), content(connection.document), 'a load from the store')
      } finally {
        await connection.disconnect()
      }
    }), { seed: 18, numRuns: store.kind === 'postgres' ? 15 : 30 })
  })
}
