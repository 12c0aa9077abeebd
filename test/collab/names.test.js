import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startCollabServer, connectClients, synced } from '../helpers/server.js'
import { when, untilDocs } from '../helpers/wait.js'

// Document names arrive byte-exact in the hooks. y-websocket puts the name in
// the URL path (the harness encodes it with encodeURIComponent and the route
// param is decoded); Hocuspocus names the document in every frame (lib0
// varString, UTF-8). Issue 3, hook tests: "document names …".

const NAMES = [
  'Grüße aus Köln – Straße',
  'team/project/notes',
  'a name  with   spaces ',
  'emoji 😀🎉👩‍💻',
  '共同編集のドキュメント',
  'mixed/Ünïcödé 😀/漢字 and spaces'
]

const bytes = name => Buffer.from(name, 'utf8').toString('hex')

test('names with umlauts, slashes, spaces, emoji and CJK arrive byte-exact from both client kinds', async t => {
  const seen = { onConnect: [], onAuthenticate: [], onLoadDocument: [], connected: [] }
  const record = hook => async ({ documentName }) => { seen[hook].push(documentName) }
  const { app, yws, hocus } = await startCollabServer(t, {
    onConnect: record('onConnect'),
    onAuthenticate: record('onAuthenticate'),
    onLoadDocument: record('onLoadDocument'),
    connected: record('connected')
  })

  for (const name of NAMES) {
    const y = yws(name)
    const h = hocus(name)
    await Promise.all([synced(y), synced(h)])
    // Both kinds reached the same document.
    y.doc.getText('text').insert(0, name)
    await untilDocs([h.document], () => h.document.getText('text').toString() === name, { what: `an edit on "${name}" to cross client kinds` })
  }

  for (const hook of Object.keys(seen)) {
    for (const name of NAMES) {
      assert.ok(seen[hook].some(seen => bytes(seen) === bytes(name)), `${hook} saw ${JSON.stringify(name)}; it saw ${JSON.stringify(seen[hook])}`)
    }
  }
  // One load per name, with exactly the given names and nothing else.
  assert.deepEqual(seen.onLoadDocument.map(bytes).toSorted(), NAMES.map(bytes).toSorted())
  assert.equal(app.collab.getDocumentsCount(), NAMES.length)
})

test('y-websocket names put in the URL unencoded arrive byte-exact through a wildcard route', async t => {
  const loaded = []
  const { url, hocus } = await startCollabServer(t, {
    async onLoadDocument ({ documentName }) { loaded.push(documentName) }
  })
  const raw = connectClients(url.replace(/\/collab$/, '/collab-raw'))
  t.after(() => raw.destroyAll())
  // The URL parser strips leading and trailing spaces from the whole URL, so
  // an unencoded name cannot end in one: one more reason to encode.
  const names = NAMES.filter(name => name === name.trim())

  for (const name of names) {
    const y = raw.yws(name, { encode: false })
    const h = hocus(name)
    await Promise.all([synced(y), synced(h)])
    h.document.getText('text').insert(0, name)
    await untilDocs([y.doc], () => y.doc.getText('text').toString() === name, { what: `an edit on "${name}" to cross client kinds` })
  }
  assert.deepEqual(loaded.map(bytes).toSorted(), names.map(bytes).toSorted())
})

test('an empty document name is refused for both client kinds, and nothing is loaded', async t => {
  const loaded = []
  const { app, yws, hocus } = await startCollabServer(t, {
    async onLoadDocument ({ documentName }) { loaded.push(documentName) }
  })

  // y-websocket: `/collab/` routes with an empty name. The refusal must use a
  // 44xx close code, or y-websocket reconnects in a loop.
  const y = yws('')
  const [close] = await when(y, 'closed', { what: 'y-websocket with an empty name to be closed for good' })
  assert.ok(close.code >= 4400 && close.code < 4500, `close code ${close.code} is in 4400–4499`)
  assert.equal(y.synced, false)

  // Hocuspocus: the name travels in the frames; the answer is a refusal.
  const h = hocus('')
  await when(h, ['authenticationFailed', 'close'], { what: 'PermissionDenied or a close for an empty name' })
  assert.equal(h.isSynced, false)

  assert.deepEqual(loaded, [])
  assert.equal(app.collab.getDocumentsCount(), 0)
})
