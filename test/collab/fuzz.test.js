import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { startCollabServer, synced } from '../helpers/server.js'
import { untilDocs, waitFor } from '../helpers/wait.js'
import { fuzzSession, playSession } from '../helpers/fuzz.js'

// Issue 7 §6: random and mutated frames of both wire formats against a running
// server, seeded and bounded here; `node bench/fuzz.js` is the long run.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')
const text = doc => doc.getText('text').toString()

test('fuzz: no crash, no unhandled rejection, the document\'s real clients stay connected and converge, memory stays bounded', { timeout: 120_000 }, async t => {
  const problems = []
  const onProblem = kind => reason => problems.push([kind, reason])
  const onRejection = onProblem('unhandledRejection')
  const onException = onProblem('uncaughtException')
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtExceptionMonitor', onException)
  t.after(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtExceptionMonitor', onException)
  })
  const { app, url, yws, hocus } = await startCollabServer(t)
  const witnesses = [yws('fuzz'), hocus('fuzz')]
  await Promise.all(witnesses.map(w => synced(w)))
  const docs = witnesses.map(w => w.doc ?? w.document)
  const closes = new Map()
  const witnessCloses = []
  witnesses[0].on('connection-close', event => witnessCloses.push(['y-websocket', event?.code]))
  witnesses[1].on('close', ({ event }) => witnessCloses.push(['hocuspocus', event?.code]))

  const run = async (numRuns, seed) => fc.assert(fc.asyncProperty(fuzzSession, async session => {
    const { closed } = await playSession(url, session)
    if (closed !== null) closes.set(closed, (closes.get(closed) ?? 0) + 1)
  }), { numRuns, seed })
  await run(20, 1)
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  await run(200, 0xC0FFEE)
  t.diagnostic(`close codes: ${JSON.stringify(Object.fromEntries(closes))}`)

  assert.deepEqual(problems, [])
  assert.deepEqual(witnessCloses, [], 'the server never closed a witness')
  docs[0].getText('text').insert(0, 'A')
  docs[1].getText('text').insert(0, 'B')
  await untilDocs(docs, () => text(docs[0]) === text(docs[1]) && /A/.test(text(docs[0])) && /B/.test(text(docs[0])), { what: 'the witnesses to converge' })
  assert.equal(text(app.collab.documents.get('fuzz')), text(docs[0]))
  // Every fuzz socket is closed: only the witnesses' document stays loaded (no event for an unload without hooks).
  await waitFor(() => app.collab.getDocumentsCount() === 1, { what: 'the fuzz documents to unload' })
  assert.equal(app.collab.getConnectionsCount(), 2)
  gc()
  const growth = process.memoryUsage().heapUsed - heapBefore
  assert.ok(growth < 32 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB over 200 sessions`)
})
