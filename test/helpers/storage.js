// Helpers for the storage tests: real Yjs updates, a storage wrapper that counts calls, and a second
// real process on the same store.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { when } from './wait.js'

/**
 * A fresh directory under the OS temp dir, removed after the test.
 * @param {import('node:test').TestContext} t
 * @returns {string}
 */
export function tempDir (t) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-storage-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Makes `count` real Yjs updates by typing into a Y.Text, one transaction each.
 * @param {number} count
 * @param {string} [prefix] text typed before the index, so two documents differ.
 * @returns {{ updates: Uint8Array[], doc: Y.Doc }} the doc holds the final text.
 */
export function typedUpdates (count, prefix = 'u') {
  const doc = new Y.Doc()
  const updates = []
  doc.on('update', (update) => updates.push(update))
  for (let i = 0; i < count; i++) doc.getText('text').insert(doc.getText('text').length, `${prefix}${i} `)
  return { updates, doc }
}

/**
 * Applies an update to `doc` as the collab core does, then returns the `onChange` payload for it.
 * @param {string} documentName
 * @param {Y.Doc} document
 * @param {Uint8Array} update
 */
export function change (documentName, document, update) {
  Y.applyUpdate(document, update)
  return { documentName, document, update }
}

/**
 * Wraps a storage and records how many entries each append call carried (`appends`), and what each
 * compaction asked (`compactions`).
 * @param {import('fastify-collab').CollabStorage} storage
 */
export function counting (storage) {
  const appends = []
  const compactions = []
  return {
    appends,
    compactions,
    load: (name) => storage.load(name),
    append (entries) {
      appends.push(entries.length)
      return storage.append(entries)
    },
    compact (name, state, upToSeq, epoch) {
      compactions.push(upToSeq)
      return storage.compact(name, state, upToSeq, epoch)
    },
    claim: (name, epoch) => storage.claim(name, epoch),
    close: () => storage.close()
  }
}

/**
 * Tracks whether a promise has settled, without waiting for it.
 * @param {Promise<unknown>} promise
 * @returns {{ settled: boolean }}
 */
export function track (promise) {
  const state = { settled: false }
  promise.then(() => { state.settled = true }, () => { state.settled = true })
  return state
}

/**
 * Loads a fresh Y.Doc through the extension, as the core does on the first connection.
 * @param {import('fastify-collab').StorageExtension} extension
 * @param {string} [documentName]
 * @param {number} [epoch]
 */
export async function loaded (extension, documentName = 'doc', epoch) {
  const document = new Y.Doc()
  await extension.onLoadDocument({ documentName, document, epoch })
  return document
}

/**
 * Resolves with the next line logged on `capture` (from captureLog) whose error has `code`.
 * @param {{ events: import('node:events').EventEmitter }} capture
 * @param {string} code
 */
export function logged ({ events }, code) {
  return when(events, 'line', { predicate: (line) => line.err?.code === code, what: `a logged ${code}` }).then(([line]) => line)
}

/**
 * Starts test/fixtures/store-worker.js on `config` (a Backend's `config`, plus extension options): a second
 * real process on the same store. `call(command)` resolves with its answer; the process is killed after
 * the test.
 * @param {import('node:test').TestContext} t
 * @param {object} config
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, call: (command: object) => Promise<{ ok: boolean, result?: unknown, error?: object }> }>}
 */
export async function storeWorker (t, config) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/store-worker.js', import.meta.url)), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const lines = createInterface({ input: child.stdout })
  const waiting = new Map()
  lines.on('line', (line) => {
    const answer = JSON.parse(line)
    waiting.get(answer.id)?.(answer)
    waiting.delete(answer.id)
  })
  const exited = once(child, 'exit').then(([code, signal]) => { throw new Error(`store worker exited (${code ?? signal}): ${stderr}`) })
  exited.catch(() => {})
  await Promise.race([once(lines, 'line'), exited])
  let ids = 0
  return {
    child,
    get stderr () { return stderr },
    call (command) {
      const id = ++ids
      const answered = new Promise((resolve) => waiting.set(id, resolve))
      child.stdin.write(JSON.stringify({ ...command, id }) + '\n')
      return Promise.race([answered, exited])
    }
  }
}
