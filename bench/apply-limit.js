// The limit for the trace replay: plain Y.applyUpdate of the same updates, one
// by one, into a fresh Y.Doc in one process (started on the server's core).
// Prints one JSON line: { updates, seconds, perSecond }.
import * as Y from 'yjs'
import { cachedTraceUpdates } from './lib/updates.js'

const { updates, endContent } = cachedTraceUpdates(process.argv[2] ?? 'automerge-paper')
const doc = new Y.Doc()
const t0 = performance.now()
for (const update of updates) Y.applyUpdate(doc, update)
const seconds = (performance.now() - t0) / 1000
if (doc.getText('text').toString() !== endContent) throw new Error('Y.applyUpdate did not reach endContent')
process.stdout.write(JSON.stringify({ updates: updates.length, seconds, perSecond: updates.length / seconds }) + '\n')
