import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { artifacts, launch, open, typeAtEnd, until } from '../helpers/chromium.js'
import { tempDir } from '../helpers/cleanup.js'
import { startExampleServer } from '../helpers/example-server.js'
import { chromiumBrowser, missing } from '../helpers/needs.js'
import { connectClients, synced } from '../helpers/server.js'
import { within } from '../helpers/wait.js'

const script = fileURLToPath(new URL('../../examples/tiptap/server.js', import.meta.url))

const saved = (page) => until(page, () => document.querySelector('#status').dataset.state === 'saved', { what: 'the page to say saved' })
const editorText = (page) => within(page.evaluate(() => window.collab.editor.getText()), { what: `the editor's text in ${page.url()}` })
const shows = (page, text) => until(page, (expected) => window.collab.editor.getText() === expected, { arg: text, what: `the editor to show ${JSON.stringify(text)}` })

test('examples/tiptap: two Chromium pages write in one Tiptap document and converge, each sees the other\'s caret, and the server holds the ProseMirror document', { skip: missing(chromiumBrowser), timeout: 60_000 }, async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'), { script })
  const context = await launch(t)
  const alice = await open(context, `${server.httpUrl}/?doc=tiptap-e2e&name=Alice`)
  const bob = await open(context, `${server.httpUrl}/?doc=tiptap-e2e&name=Bob`)
  await Promise.all([saved(alice), saved(bob)])

  await alice.locator('.tiptap').click()
  await alice.keyboard.type('Alice writes a paragraph.')
  await alice.keyboard.press('Enter')
  await shows(bob, 'Alice writes a paragraph.\n\n')
  await typeAtEnd(bob, 'Bob adds a second one.', '.tiptap')
  const expected = 'Alice writes a paragraph.\n\nBob adds a second one.'
  await Promise.all([shows(alice, expected), shows(bob, expected), saved(alice), saved(bob)])
  assert.equal(await editorText(alice), expected)
  assert.equal(await editorText(bob), expected)
  await until(alice, () => document.querySelector('.collaboration-carets__label')?.textContent === 'Bob', { what: 'Bob\'s caret, named' })
  await alice.screenshot({ path: join(artifacts, 'tiptap-two-pages.png') })
  assert.deepEqual([...alice.errors, ...bob.errors], [])

  // Any Hocuspocus client reads what the editors wrote: two paragraphs in the Y.XmlFragment `default`.
  const clients = connectClients(`${server.wsUrl}/collab`)
  t.after(() => clients.destroyAll())
  const reader = clients.hocus('tiptap-e2e')
  await synced(reader)
  assert.equal(reader.document.getXmlFragment('default').toString(), '<paragraph>Alice writes a paragraph.</paragraph><paragraph>Bob adds a second one.</paragraph>')
  clients.destroyAll()

  await context.close()
  assert.equal(await server.stop(), 0)
})
