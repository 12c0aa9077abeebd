import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { artifacts, editorText, launch, open, saved, shows, typeAtEnd, until } from '../helpers/chromium.js'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'
import { get } from '../helpers/http.js'
import { chromiumBrowser, missing } from '../helpers/needs.js'

const showsExactly = (page, text) => until(page, (expected) => window.collab.view.state.doc.toString() === expected, { arg: text, what: `the editor to hold exactly ${JSON.stringify(text)}` })
const entry = (page, text) => page.locator('#versions li').filter({ hasText: text })
const status = (page) => page.locator('#history-status').textContent()

test('the History panel: a version saved on one page is restored from the other; both pages show it at once, and so does a reload', { skip: missing(chromiumBrowser), timeout: 90_000 }, async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'))
  const context = await launch(t)
  const doc = `${server.httpUrl}/?doc=history-e2e`
  const alice = await open(context, `${doc}&name=Alice`)
  const bob = await open(context, `${doc}&name=Bob`)
  await Promise.all([saved(alice), saved(bob)])

  const draft = 'A first draft by Alice.'
  await alice.locator('.cm-content').click()
  await alice.keyboard.type(draft)
  await shows(bob, draft)
  await alice.locator('#version-label').fill('first draft')
  await alice.locator('#save-version button').click()
  // Alice's list has it once her POST answered; Bob's once the server relayed her page's notice.
  await Promise.all([entry(alice, 'first draft').waitFor(), entry(bob, 'first draft').waitFor()])
  const id = await entry(bob, 'first draft').getAttribute('data-id')
  assert.equal(await status(alice), `Saved version ${id}.`)
  assert.equal(await entry(bob, 'first draft').locator('.authors').textContent(), 'Alice', 'the author is the name the page gave its socket')

  // Both type more: Alice at the end, Bob deletes the first two characters and adds to the end.
  await typeAtEnd(alice, ' Alice adds a sentence.')
  await shows(bob, 'Alice adds a sentence.')
  await bob.locator('.cm-content').click()
  await bob.keyboard.press('Control+Home')
  await bob.keyboard.press('Delete')
  await bob.keyboard.press('Delete')
  await bob.keyboard.press('Control+End')
  await bob.keyboard.type(' Bob too.')
  const edited = 'first draft by Alice. Alice adds a sentence. Bob too.'
  await Promise.all([showsExactly(alice, edited), showsExactly(bob, edited)])
  await Promise.all([saved(alice), saved(bob)])

  // Bob previews the version: its diff against the current text, deletions and insertions apart.
  await entry(bob, 'first draft').locator('button').click()
  await until(bob, (id) => !document.querySelector('#preview').hidden && document.querySelector('#preview').dataset.id === id, { arg: id, what: 'the preview of the version' })
  assert.equal((await bob.locator('#preview-diff del').allTextContents()).join(''), 'A ', 'deleted since: what Bob deleted')
  const inserted = (await bob.locator('#preview-diff ins').allTextContents()).join('')
  assert.equal(inserted.length, edited.length - (draft.length - 2), `inserted since: ${JSON.stringify(inserted)}`)
  assert.match(inserted, /Alice adds a sentence\..*Bob too/)
  const spelled = await bob.locator('#preview-diff').evaluate((pre) => ['ins', 'del'].map((left) => {
    const copy = pre.cloneNode(true)
    for (const node of copy.querySelectorAll(left)) node.remove()
    return copy.textContent
  }))
  assert.deepEqual(spelled, [draft, edited], 'without the insertions the preview reads as the version, without the deletions as the current text')
  await bob.screenshot({ path: join(artifacts, 'history-preview.png') })

  // Bob restores it: both editors hold the version's text, and the text it replaced is a version too.
  await bob.locator('#restore').click()
  await Promise.all([showsExactly(alice, draft), showsExactly(bob, draft)])
  await until(bob, () => document.querySelector('#history-status').dataset.state === 'done', { what: 'the restore to be confirmed' })
  const [, restoredId, savedId] = /^Restored version (\d+); the text it replaced is version (\d+)\.$/.exec(await status(bob)) ?? []
  assert.equal(restoredId, id, `Bob's panel says what it did: ${await status(bob)}`)
  assert.equal(await bob.locator('#preview').isHidden(), true)
  await Promise.all([entry(alice, 'before a restore').waitFor(), entry(bob, 'before a restore').waitFor()])
  assert.equal(await entry(alice, 'before a restore').getAttribute('data-id'), savedId)
  const replaced = (await get(`${server.httpUrl}/api/documents/history-e2e/versions/${savedId}`)).json()
  assert.equal(replaced.text, edited, 'nothing typed before the restore is lost')
  assert.deepEqual(replaced.authors, ['Alice', 'Bob'])
  await Promise.all([saved(alice), saved(bob)])

  await alice.reload()
  await saved(alice)
  assert.equal(await editorText(alice), draft, 'a reload shows the restored text')
  await entry(alice, 'first draft').waitFor()

  // At a phone width the panel sits under the editor, within the screen, and its preview and Restore work.
  await alice.setViewportSize({ width: 390, height: 844 })
  await entry(alice, 'before a restore').locator('button').click()
  await until(alice, (id) => document.querySelector('#preview').dataset.id === id, { arg: savedId, what: 'the preview at 390 px' })
  const box = (selector) => alice.locator(selector).boundingBox()
  const [editor, panel, restore] = await Promise.all([box('#editor'), box('#history'), box('#restore')])
  assert.ok(panel.y >= editor.y + editor.height, `the panel (y ${panel.y}) is below the editor (bottom ${editor.y + editor.height})`)
  for (const [name, { x, width }] of [['the panel', panel], ['Restore', restore]]) {
    assert.ok(x >= 0 && x + width <= 390, `${name} (${x}..${x + width}) fits in 390 px`)
  }
  assert.ok(restore.height >= 44, `Restore is ${restore.height} px high: a finger can hit it`)
  assert.equal(await alice.evaluate(() => document.documentElement.scrollWidth), 390, 'nothing is wider than the window')
  await alice.screenshot({ path: join(artifacts, 'history-phone.png'), fullPage: true })

  assert.deepEqual([...alice.errors, ...bob.errors], [])
  // The browser goes before the server: its close() waits for every connection the browser holds.
  await context.close()
  assert.equal(await server.stop(), 0)
})
