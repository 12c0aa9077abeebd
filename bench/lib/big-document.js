// A large, realistic document for the join storm (issue 17 §2): the final
// states of the sequential editing traces (automerge-paper and
// sveltecomponent: real keystroke histories, with their tombstones and the
// fine-grained structs they leave) copied again and again into one Y.Doc,
// each copy under a Yjs client ID of its own and in a root Y.Text of its own
// (`page-000`, `page-001`…: a document of many pages by many authors), until
// its state passes the size asked for. Built once and cached in the temp dir.
//
// A copy is the trace's state update with its client ID and root name
// rewritten struct by struct (the layout of yjs encoding.js's
// writeClientsStructs and the content writers; the contents are copied as
// bytes), which takes milliseconds where replaying the trace takes seconds.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cachedTraceUpdates } from './updates.js'

const BIT6 = 32
const BIT7 = 64
const BIT8 = 128

function copyString (decoder, encoder) {
  const length = decoding.readVarUint(decoder)
  encoding.writeVarUint(encoder, length)
  encoding.writeUint8Array(encoder, decoder.arr.subarray(decoder.pos, decoder.pos + length))
  decoder.pos += length
}

/** Skips a length-prefixed byte string (`decoder.pos += readVarUint(decoder)` would add to the position read before the length). */
function skip (decoder) {
  const length = decoding.readVarUint(decoder)
  decoder.pos += length
}

function copyId (decoder, encoder, from, to) {
  const client = decoding.readVarUint(decoder)
  encoding.writeVarUint(encoder, client === from ? to : client)
  encoding.writeVarUint(encoder, decoding.readVarUint(decoder))
}

/**
 * The v1 `update` with every reference to Yjs client `from` made to `to`, and
 * every struct whose parent is the root type `fromRoot` moved to `toRoot`.
 */
export function rewriteUpdate (update, { from, to, fromRoot, toRoot }) {
  const decoder = decoding.createDecoder(update)
  const encoder = encoding.createEncoder()
  const clients = decoding.readVarUint(decoder)
  encoding.writeVarUint(encoder, clients)
  for (let c = 0; c < clients; c++) {
    const structs = decoding.readVarUint(decoder)
    encoding.writeVarUint(encoder, structs)
    const client = decoding.readVarUint(decoder)
    encoding.writeVarUint(encoder, client === from ? to : client)
    encoding.writeVarUint(encoder, decoding.readVarUint(decoder)) // first clock
    for (let s = 0; s < structs; s++) {
      const info = decoding.readUint8(decoder)
      encoding.writeUint8(encoder, info)
      const ref = info & 31
      if (ref === 0 || ref === 10) { // GC, Skip: a length
        encoding.writeVarUint(encoder, decoding.readVarUint(decoder))
        continue
      }
      if ((info & BIT8) !== 0) copyId(decoder, encoder, from, to) // origin
      if ((info & BIT7) !== 0) copyId(decoder, encoder, from, to) // right origin
      if ((info & (BIT7 | BIT8)) === 0) {
        const parentIsKey = decoding.readVarUint(decoder)
        encoding.writeVarUint(encoder, parentIsKey)
        if (parentIsKey === 1) {
          const key = decoding.readVarString(decoder)
          encoding.writeVarString(encoder, key === fromRoot ? toRoot : key)
        } else copyId(decoder, encoder, from, to)
        if ((info & BIT6) !== 0) copyString(decoder, encoder) // parentSub
      }
      const start = decoder.pos
      switch (ref) {
        case 1: decoding.readVarUint(decoder); break // ContentDeleted
        case 2: { // ContentJSON
          const length = decoding.readVarUint(decoder)
          for (let i = 0; i < length; i++) skip(decoder)
          break
        }
        case 3: case 4: case 5: skip(decoder); break // Binary, String, Embed
        case 6: skip(decoder); skip(decoder); break // Format
        case 7: { // ContentType
          const typeRef = decoding.readVarUint(decoder)
          if (typeRef === 3 || typeRef === 5) skip(decoder)
          break
        }
        default: throw new Error(`rewriteUpdate: content ${ref} is not supported`)
      }
      encoding.writeUint8Array(encoder, decoder.arr.subarray(start, decoder.pos))
    }
  }
  // The delete set.
  const deleting = decoding.readVarUint(decoder)
  encoding.writeVarUint(encoder, deleting)
  for (let c = 0; c < deleting; c++) {
    const client = decoding.readVarUint(decoder)
    encoding.writeVarUint(encoder, client === from ? to : client)
    const ranges = decoding.readVarUint(decoder)
    encoding.writeVarUint(encoder, ranges)
    for (let r = 0; r < ranges * 2; r++) encoding.writeVarUint(encoder, decoding.readVarUint(decoder))
  }
  return encoding.toUint8Array(encoder)
}

// The sequential traces (friendsforever is concurrent: its replay needs the causal order).
const TRACES = ['automerge-paper', 'sveltecomponent']

/** The final state of a trace as one update (client 1, root 'text'), and its text. */
function traceState (name) {
  const { updates, endContent } = cachedTraceUpdates(name)
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  const state = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return { state, endContent }
}

/**
 * The big document's state (one v1 update, what `Y.encodeStateAsUpdate` of the
 * loaded document gives) of at least `minBytes`, and a description. Cached.
 */
export function bigDocument (minBytes = 20 * 1024 * 1024) {
  const file = join(tmpdir(), `fastify-collab-bench-big-${minBytes}.v1.bin`)
  if (!existsSync(file)) {
    const states = TRACES.map(traceState)
    const copies = []
    const texts = []
    let bytes = 0
    for (let i = 0; bytes < minBytes; i++) {
      const { state, endContent } = states[i % states.length]
      const root = `page-${String(i).padStart(3, '0')}`
      const copy = rewriteUpdate(state, { from: 1, to: 1000 + i, fromRoot: 'text', toRoot: root })
      copies.push(copy)
      texts.push([root, endContent])
      bytes += copy.length
    }
    const doc = new Y.Doc()
    for (const copy of copies) Y.applyUpdate(doc, copy)
    for (const [root, content] of texts) {
      if (doc.getText(root).toString() !== content) throw new Error(`big document: ${root} differs from its trace`)
    }
    const state = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    writeFileSync(file + '.tmp', state)
    renameSync(file + '.tmp', file)
  }
  const state = readFileSync(file)
  return { state, file, bytes: state.length }
}

/** Details of a cached big document, for the tables: roots, clients, characters. */
export function describe (state) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  const roots = [...doc.share.keys()]
  const characters = roots.reduce((sum, root) => sum + doc.getText(root).length, 0)
  const clients = Y.decodeStateVector(Y.encodeStateVector(doc)).size
  doc.destroy()
  return { roots: roots.length, clients, characters }
}
