// Helpers for the storage tests: real Yjs updates, a storage wrapper that counts calls, and a second
// real process on the same store.
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { NodeProcess } from './child.js'
import { when } from './wait.js'

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
    claim: (name) => storage.claim(name),
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
 * Starts test/fixtures/store-worker.js on `config` (a Backend's `config`, plus extension options): a
 * second real process on the same store. `call(command)` resolves with its answer; the process is killed
 * after the test.
 * @param {import('node:test').TestContext} t
 * @param {object} config
 * @returns {Promise<{ stderr: string, call: (command: object, options?: { timeout?: number }) => Promise<{ ok: boolean, result?: unknown, error?: object }> }>}
 */
export async function storeWorker (t, config) {
  const worker = new NodeProcess(t, [fileURLToPath(new URL('../fixtures/store-worker.js', import.meta.url)), JSON.stringify(config)], { name: 'the store worker', stdin: 'pipe' })
  await worker.line(() => true, { what: 'its ready line' })
  let ids = 0
  return {
    get stderr () { return worker.err.join('\n') },
    async call (command, { timeout } = {}) {
      const id = ++ids
      worker.child.stdin.write(JSON.stringify({ ...command, id }) + '\n')
      return JSON.parse(await worker.line((line) => JSON.parse(line).id === id, { timeout, what: `the answer to ${command.op}` }))
    }
  }
}
