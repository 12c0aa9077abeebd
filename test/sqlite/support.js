import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as Y from 'yjs'

/**
 * A fresh directory under the OS temp dir, removed after the test.
 * @param {import('node:test').TestContext} t
 * @returns {string}
 */
export function tempDir (t) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-sqlite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export { captureLog } from '../helpers/log.js'

/**
 * Reads the two tables through a separate connection, as another process would see them.
 * @param {string} path
 * @returns {{ updates: Array<{ document: string, seq: number, data: Buffer }>, snapshots: Array<{ document: string, seq: number, state: Buffer }> }}
 */
export function readTables (path) {
  const db = new Database(path, { readonly: true })
  try {
    return {
      updates: db.prepare('SELECT document, seq, data FROM collab_updates ORDER BY document, seq').all(),
      snapshots: db.prepare('SELECT document, seq, state FROM collab_snapshots ORDER BY document').all()
    }
  } finally {
    db.close()
  }
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
