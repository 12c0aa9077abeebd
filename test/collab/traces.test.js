import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startCollabServer, synced, acknowledged } from '../helpers/server.js'
import { untilDocs } from '../helpers/wait.js'
import { loadTrace, typeSequential, planConcurrent, typeConcurrent } from '../helpers/traces.js'

// Real editing traces (josephg/editing-traces, CC BY 4.0) replayed through real
// providers and the server, one Yjs transaction (one update frame) per trace
// transaction: issue 3, "Real input".

const text = doc => doc.getText('text').toString()

test('sveltecomponent: typed by one y-websocket client, watched by a y-websocket and a Hocuspocus client', { timeout: 60000 }, async t => {
  const trace = loadTrace('sveltecomponent')
  const { yws, hocus } = await startCollabServer(t)
  const typist = yws('svelte')
  const watchers = [yws('svelte'), hocus('svelte')]
  await Promise.all([typist, ...watchers].map(provider => synced(provider)))

  const typed = await typeSequential(typist.doc, trace)
  assert.equal(typed, 18335)
  assert.equal(text(typist.doc), trace.endContent)

  const docs = [watchers[0].doc, watchers[1].document]
  await untilDocs(docs, () => docs.every(doc => text(doc) === trace.endContent), { timeout: 30000, what: 'every watcher to reach endContent' })

  // And the server holds it: a late joiner syncs to the same text.
  const late = hocus('svelte')
  await synced(late, 10000)
  assert.equal(text(late.document), trace.endContent)
})

test('friendsforever: two clients (y-websocket and Hocuspocus) type their own transactions at once, each on its parents', { timeout: 90000 }, async t => {
  const trace = loadTrace('friendsforever')
  assert.equal(trace.numAgents, 2)
  const { yws, hocus } = await startCollabServer(t)
  const docs = [new Y.Doc(), new Y.Doc()]
  // Ties between concurrent insertions go to the lower client id; endContent
  // puts agent 0 first (see planConcurrent).
  docs.sort((a, b) => a.clientID - b.clientID)
  // The plan resolves positions to item ids at each transaction's parent state.
  const plan = planConcurrent(trace, docs.map(doc => doc.clientID))
  assert.deepEqual(plan.offlineContent, [trace.endContent, trace.endContent], 'the causal plan itself reproduces endContent')

  const typists = [yws('friends', { doc: docs[0] }), hocus('friends', { document: docs[1] })]
  await Promise.all(typists.map(provider => synced(provider)))

  const [first, second] = await Promise.all([typeConcurrent(docs[0], plan, 0), typeConcurrent(docs[1], plan, 1)])
  assert.equal(first.typed + second.typed, trace.txns.length)
  // The typists overlapped: some transactions were typed on a doc that
  // already held the other's concurrent edits.
  assert.ok(first.concurrent + second.concurrent > 0, `concurrent transactions: ${first.concurrent} + ${second.concurrent}`)
  t.diagnostic(`typed on concurrent state: ${first.concurrent} + ${second.concurrent}`)

  await untilDocs(docs, () => docs.every(doc => text(doc) === trace.endContent), { timeout: 30000, what: 'both typists to reach endContent' })
  // Every update the Hocuspocus typist sent was acknowledged.
  await acknowledged(typists[1], 10000)

  const late = yws('friends')
  await synced(late, 10000)
  assert.equal(text(late.doc), trace.endContent)
})
