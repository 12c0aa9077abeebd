// Headless Chromium for the end-to-end tests: playwright-core driving Debian's chromium.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

// Debian's chromium; CHROMIUM_PATH points elsewhere (or at nothing, to see the skip).
export const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

/** A headless Chromium context with a fresh profile, closed (and the profile removed) after the test. */
export async function launch (t) {
  const profile = mkdtempSync(join(tmpdir(), 'fastify-collab-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 600 }
  })
  t.after(async () => {
    await context.close()
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
export const editorText = (page) => page.evaluate(() => window.collab.view.state.doc.toString())
export const until = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 20_000 })
export const saved = (page) => until(page, () => document.querySelector('#status').dataset.state === 'saved')
export const shows = (page, text) => until(page, (expected) => window.collab.view.state.doc.toString().includes(expected), text)
export const present = (page, name) => until(page, (expected) => [...document.querySelectorAll('#presence .name')].some(node => node.textContent === expected), name)

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
