// Turns a sequential editing trace (josephg/editing-traces format) into Yjs
// updates, one update per patch, as one client typing it would produce them.
import { readFileSync, existsSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'

const local = fileURLToPath(new URL('../../test/fixtures/editing-traces/', import.meta.url))
const shared = '/work/shared/data/editing-traces/'

/** Reads `<name>.json.gz` from test/fixtures, falling back to the shared copy. */
export function loadTrace (name) {
  const file = [local, shared].map((dir) => dir + name + '.json.gz').find((path) => existsSync(path))
  if (file === undefined) throw new Error(`trace ${name} not found in ${local} or ${shared}`)
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'))
}

/**
 * Replays every patch into a Y.Text named 'text' in its own transaction and
 * collects the v1 updates. Returns { updates, bytes, clock, endContent },
 * where `clock` is the client's final Yjs clock.
 */
export function traceUpdates (trace, clientID = 1) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText('text')
  const updates = []
  let bytes = 0
  doc.on('update', (update) => { updates.push(update); bytes += update.byteLength })
  for (const txn of trace.txns) {
    for (const [position, deleteCount, insertText] of txn.patches) {
      doc.transact(() => {
        if (deleteCount > 0) text.delete(position, deleteCount)
        if (insertText.length > 0) text.insert(position, insertText)
      })
    }
  }
  const content = text.toString()
  if (content !== trace.endContent) throw new Error('trace replay did not reach endContent')
  const clock = Y.getState(doc.store, clientID)
  doc.destroy()
  return { updates, bytes, clock, endContent: content }
}
