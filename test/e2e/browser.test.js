import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { artifacts, editorText, launch, open, present, saved, typeInTurn, until } from '../helpers/chromium.js'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'
import { chromiumBrowser, missing } from '../helpers/needs.js'

test('two browsers edit one document; the text survives a reload and a server restart', { skip: missing(chromiumBrowser), timeout: 90_000 }, async (t) => {
  const dataDir = tempDir(t, 'data')
  const first = await startExampleServer(t, dataDir)
  const context = await launch(t)
  const requests = []
  context.on('request', (request) => requests.push(request.url()))
  const doc = `${first.httpUrl}/?doc=e2e`

  const alice = await open(context, `${doc}&name=Alice`)
  const bob = await open(context, `${doc}&name=Bob`)
  await Promise.all([saved(alice), saved(bob)])
  assert.equal(await alice.locator('#current-doc').textContent(), 'e2e')

  await typeInTurn(alice, bob)

  // Presence: each lists the other by name with a colour; each draws the other's caret.
  await Promise.all([present(alice, 'Alice (you)'), present(alice, 'Bob'), present(bob, 'Alice'), present(bob, 'Bob (you)')])
  await until(alice, () => document.querySelector('.cm-ySelectionCaret') !== null, { what: "Bob's caret" })
  await until(bob, () => document.querySelector('.cm-ySelectionCaret') !== null, { what: "Alice's caret" })
  const bobColour = await bob.evaluate(() => window.collab.user.color)
  const swatch = await alice.locator('#presence li', { hasText: 'Bob' }).locator('.swatch').evaluate((node) => window.getComputedStyle(node).backgroundColor)
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(bobColour.slice(i, i + 2), 16))
  assert.equal(swatch, `rgb(${r}, ${g}, ${b})`, "Alice sees Bob in Bob's colour")

  // "saved" means every keystroke was acknowledged, which the store does after the SQLite write.
  await Promise.all([saved(alice), saved(bob)])
  const expected = 'Alice was here. Bob too.'
  assert.equal(await editorText(alice), expected)
  assert.equal(await editorText(bob), expected)
  await alice.screenshot({ path: join(artifacts, 'browser-two-pages.png') })

  await bob.reload()
  await saved(bob)
  assert.equal(await editorText(bob), expected, 'a reload keeps the text')

  // The switcher opens another, empty document.
  await bob.locator('#doc-name').fill('elsewhere')
  await Promise.all([bob.waitForURL(/\?doc=elsewhere$/), bob.locator('#switcher button').click()])
  await saved(bob)
  assert.equal(await bob.locator('#current-doc').textContent(), 'elsewhere')
  assert.equal(await editorText(bob), '')

  assert.deepEqual([...alice.errors, ...bob.errors], [])
  // The browser goes before the server: its close() waits for every connection the browser holds.
  await context.close()
  assert.equal(await first.stop(), 0, 'SIGTERM stores everything and exits with 0')

  const second = await startExampleServer(t, dataDir)
  const again = await launch(t)
  again.on('request', (request) => requests.push(request.url()))
  const carol = await open(again, `${second.httpUrl}/?doc=e2e&name=Carol`)
  await saved(carol)
  assert.equal(await editorText(carol), expected, 'the text survives a server restart on the same DATA_DIR')
  await carol.screenshot({ path: join(artifacts, 'browser-after-restart.png') })
  assert.deepEqual(carol.errors, [])
  await again.close()
  assert.equal(await second.stop(), 0)

  // Everything is bundled: the pages asked nothing of any other host.
  const servers = [first.httpUrl, second.httpUrl].map((url) => `${url}/`)
  assert.deepEqual(requests.filter((url) => !url.startsWith('data:') && !servers.some((origin) => url.startsWith(origin))), [])
  assert.ok(requests.some((url) => url.endsWith('/build/main.js')), 'the requests were seen')
})

test('the page at a phone width (390 px): the editor takes the width, the sidebar goes below it, nothing scrolls sideways', { skip: missing(chromiumBrowser), timeout: 60_000 }, async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'))
  const context = await launch(t)
  const alice = await open(context, `${server.httpUrl}/?doc=phone&name=Alice`)
  await alice.setViewportSize({ width: 390, height: 844 })
  await saved(alice)
  await alice.locator('.cm-content').click()
  await alice.keyboard.type('Typed on a phone, one line.')
  await saved(alice)
  await alice.screenshot({ path: join(tempDir(t, 'screenshots'), 'phone.png'), fullPage: true })

  const box = (selector) => alice.locator(selector).first().boundingBox()
  const [editor, aside, line] = await Promise.all([box('#editor'), box('aside'), box('.cm-line')])
  assert.ok(editor.width >= 300, `the editor is ${editor.width} px wide`)
  assert.ok(editor.x >= 0 && editor.x + editor.width <= 390, `the editor (${editor.x}..${editor.x + editor.width}) fits in 390 px`)
  assert.ok(aside.y >= editor.y + editor.height, `the sidebar (y ${aside.y}) is below the editor (bottom ${editor.y + editor.height})`)
  const lineHeight = await alice.locator('.cm-line').first().evaluate((node) => parseFloat(window.getComputedStyle(node).lineHeight))
  assert.ok(line.height < 2 * lineHeight, `the typed sentence takes one line (${line.height} px high, lines are ${lineHeight} px)`)
  assert.equal(await alice.evaluate(() => document.documentElement.scrollWidth), 390, 'nothing is wider than the window')
  assert.deepEqual(alice.errors, [])
  await context.close()
  assert.equal(await server.stop(), 0)
})
