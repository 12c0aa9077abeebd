// Headless Chromium for the end-to-end tests: playwright-core driving the Chromium found on this
// machine (chromiumBrowser in needs.js; a test that needs it passes `{ skip: missing(chromiumBrowser) }`).
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { makeTempDir } from './cleanup.js'
import { chromiumBrowser } from './needs.js'
import { within } from './wait.js'

export const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

/**
 * A headless Chromium context with a fresh profile, closed (and the profile removed) after the test.
 * Close it sooner, before stopping a server its pages used: Chromium keeps connections open (a
 * preconnected socket that never carried a request), and a server's close() waits for them.
 */
export async function launch (t) {
  mkdirSync(artifacts, { recursive: true })
  const profile = makeTempDir('chromium')
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: chromiumBrowser().found,
    // What Chromium writes to its TMPDIR (org.chromium.Chromium.*) goes with the profile.
    env: { ...process.env, TMPDIR: profile.path },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 600 },
    timeout: 30_000
  })
  // Every action, navigation and wait of its pages fails after 20 s, naming what it waited for.
  context.setDefaultTimeout(20_000)
  // At an exit without after hooks, the profile is removed first (cleanup.js), and Chromium, still
  // running, may write to it again; Playwright's own exit handler, added at the launch, then kills
  // Chromium, and this one, added after it, removes what Chromium wrote since.
  const removeAtExit = () => profile.remove()
  process.once('exit', removeAtExit)
  t.after(async () => {
    await within(context.close(), { timeout: 15_000, what: 'Chromium to close' })
    process.off('exit', removeAtExit)
    profile.remove()
  })
  return context
}

/** Opens `url` in a new page; `page.errors` collects its uncaught errors (a test asserts it stays empty). */
export async function open (context, url) {
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (error) => errors.push(error))
  await page.goto(url)
  page.errors = errors
  return page
}

// The editor's own document, which is what it renders; the DOM text would also hold the
// remote carets' name labels.
export const editorText = (page) => within(page.evaluate(() => window.collab.view.state.doc.toString()), { what: `the editor's text in ${page.url()}` })

/**
 * Resolves once `fn(arg)` is truthy in the page; rejects after 20 s with an Error naming `what`.
 * @param {import('playwright-core').Page} page
 * @param {Function} fn
 * @param {{ arg?: unknown, what: string }} options
 */
export async function until (page, fn, { arg, what }) {
  try {
    await page.waitForFunction(fn, arg, { timeout: 20_000 })
  } catch (error) {
    throw new Error(`waiting for ${what} in ${page.url()}: ${error.message}`, { cause: error })
  }
}
export const saved = (page) => until(page, () => document.querySelector('#status').dataset.state === 'saved', { what: 'the page to say saved' })
export const shows = (page, text) => until(page, (expected) => window.collab.view.state.doc.toString().includes(expected), { arg: text, what: `the editor to show ${JSON.stringify(text)}` })
/** Clicks into the editor (`editor`, CodeMirror's by default), moves to the end of the text and types `text`. */
export async function typeAtEnd (page, text, editor = '.cm-content') {
  await page.locator(editor).click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text)
}

/** Alice types into the empty editor, then Bob after her text: each page shows what the other typed. */
export async function typeInTurn (alice, bob) {
  await typeAtEnd(alice, 'Alice was here. ')
  await shows(bob, 'Alice was here. ')
  await typeAtEnd(bob, 'Bob too.')
  await shows(alice, 'Alice was here. Bob too.')
}

export const present = (page, name) => until(page, (expected) => [...document.querySelectorAll('#presence .name')].some(node => node.textContent === expected), { arg: name, what: `${name} in the presence list` })
