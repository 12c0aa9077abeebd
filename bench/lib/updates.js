// Pre-generated Yjs updates for the load generator, so that producing them is
// never part of a measured phase.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadTrace, traceUpdates } from './trace.js'

/** `count` updates by `clientID`, each appending one character to Y.Text 'text'. */
export function typingUpdates (clientID, count, char = 'x') {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText('text')
  const updates = []
  doc.on('update', (update) => updates.push(update))
  for (let k = 0; k < count; k++) text.insert(k, char)
  doc.destroy()
  return updates
}

/** One update by `clientID` inserting `content` into Y.Text 'text'. */
export function oneUpdate (clientID, content) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('text').insert(0, content)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/**
 * The updates of a sequential trace, one per patch, by client 1. Cached in the
 * temp dir after the first run (generating automerge-paper takes seconds).
 * Returns { updates, clock, endContent }: `clock` is client 1's final clock.
 */
export function cachedTraceUpdates (name) {
  const file = join(tmpdir(), `fastify-collab-bench-${name}.v1.bin`)
  if (!existsSync(file)) {
    const { updates, clock, endContent } = traceUpdates(loadTrace(name))
    const encoder = encoding.createEncoder()
    encoding.writeVarString(encoder, endContent)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarUint(encoder, updates.length)
    for (const update of updates) encoding.writeVarUint8Array(encoder, update)
    writeFileSync(file, encoding.toUint8Array(encoder))
  }
  const decoder = decoding.createDecoder(readFileSync(file))
  const endContent = decoding.readVarString(decoder)
  const clock = decoding.readVarUint(decoder)
  const updates = Array.from({ length: decoding.readVarUint(decoder) }, () => decoding.readVarUint8Array(decoder))
  return { updates, clock, endContent }
}
