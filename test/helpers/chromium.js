// Headless Chromium for the end-to-end tests: playwright-core driving Debian's chromium.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { within } from './wait.js'

// Debian's chromium; CHROMIUM_PATH points elsewhere (or at nothing, to see the skip).
export const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

/**
 * A headless Chromium context with a fresh profile, closed (and the profile removed) after the test.
 * Close it sooner, before stopping a server its pages used: Chromium keeps connections open (a
 * preconnected socket that never carried a request), and a server's close() waits for them.
 */
export async function launch (t) {
  const profile = mkdtempSync(join(tmpdir(), 'fastify-collab-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 600 },
    timeout: 30_000
  })
  // Every action, navigation and wait of its pages fails after 20 s, naming what it waited for.
  context.setDefaultTimeout(20_000)
  t.after(async () => {
    await within(context.close(), { timeout: 15_000, what: 'Chromium to close' })
    rmSync(profile, { recursive: true, force: true })
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
export const present = (page, name) => until(page, (expected) => [...document.querySelectorAll('#presence .name')].some(node => node.textContent === expected), { arg: name, what: `${name} in the presence list` })

/**
 * Whether Chromium is missing: then the test is skipped with a message, or fails under CI=true,
 * where `.ci/run` installs it. Also makes the screenshots folder.
 * @param {import('node:test').TestContext} t
 * @returns {boolean}
 */
export function chromiumMissing (t) {
  if (existsSync(executablePath)) {
    mkdirSync(artifacts, { recursive: true })
    return false
  }
  const message = `${executablePath} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests`
  if (process.env.CI === 'true') assert.fail(message)
  t.diagnostic(message)
  t.skip(message)
  return true
}
