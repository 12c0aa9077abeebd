// What the tests leave behind: nothing. Every folder they make under TMPDIR is named for the test
// process that made it, fastify-collab-<pid>-<label>-XXXXXX, so that what one test file leaves can be
// told from what the file running beside it has there (test/suite/cleanup.test.js counts them), and
// is removed after its test. Processes are stopped after their test too. A file that outlives the
// runner's --test-timeout is ended with SIGTERM and runs no after hook: then what is still registered
// here is stopped and removed as the process exits.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The start of the name of every folder process `pid` makes under TMPDIR. */
export const tempNameOf = (pid) => `fastify-collab-${pid}-`
const tempPrefix = join(tmpdir(), tempNameOf(process.pid))

const atExit = new Set()
// The last registered first: a process goes before the folder it was started in.
process.on('exit', () => {
  for (const cleanup of [...atExit].reverse()) {
    try {
      cleanup()
    } catch {}
  }
})
// SIGTERM would end the process without 'exit'; Playwright, once it launched a browser, exits on it too.
process.once('SIGTERM', () => process.exit(143))

/**
 * Runs `cleanup` (synchronous) if the process exits while it is registered.
 * @param {() => void} cleanup
 * @returns {() => void} unregisters it, once the resource is gone by the ordinary way.
 */
export function untilExit (cleanup) {
  atExit.add(cleanup)
  return () => atExit.delete(cleanup)
}

/**
 * SIGKILLs `child` if this process exits while it runs.
 * @param {import('node:child_process').ChildProcess} child
 * @returns {import('node:child_process').ChildProcess} `child`
 */
export function killAtExit (child) {
  const release = untilExit(() => child.kill('SIGKILL'))
  child.once('exit', release)
  return child
}

/**
 * A new folder under TMPDIR, removed at exit at the latest; `remove()` removes it sooner.
 * @param {string} label says what it is for, in its name
 * @returns {{ path: string, remove: () => void }}
 */
export function makeTempDir (label) {
  const path = mkdtempSync(`${tempPrefix}${label}-`)
  // Retried: a process that has just been stopped may still be closing files in it.
  const remove = () => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  const release = untilExit(remove)
  return {
    path,
    remove () {
      remove()
      release()
    }
  }
}

/**
 * A new folder under TMPDIR, removed after the test.
 * @param {import('node:test').TestContext} t
 * @param {string} [label]
 * @returns {string}
 */
export function tempDir (t, label = 'test') {
  const dir = makeTempDir(label)
  t.after(() => dir.remove())
  return dir.path
}
