// Bringing documents into a fastify-collab store from elsewhere (Hocuspocus's
// database extensions, any store that keeps one Yjs state per document): each
// state is written as the document's snapshot, through the CollabStorage API,
// so it works with every store (SQLite, PostgreSQL, one's own).

import * as Y from 'yjs'
import { FST_COLLAB_IMPORT_EXISTS, FST_COLLAB_IMPORT_INVALID_DOCUMENT, FST_COLLAB_IMPORT_INVALID_STATE } from '../errors.js'
import type { CollabStorage, StoredDocument } from './storage.js'

/**
 * One document to import: its name, and its whole state as one Yjs update (format v1), what
 * `Y.encodeStateAsUpdate(doc)` returns. That is what `@hocuspocus/extension-database` hands its `store`
 * (`state`) and takes back from its `fetch`, and what `@hocuspocus/extension-sqlite` keeps in `documents.data`.
 */
export interface ImportedDocument {
  /** The document name, as clients name it (the Hocuspocus `documentName`, the y-websocket room). Not empty. */
  name: string
  /** The document's state: a Yjs update, format v1 (a Node Buffer is a Uint8Array). */
  state: Uint8Array
}

/** Options of {@link importDocuments}. */
export interface ImportOptions {
  /**
   * Overwrite a document that the target store already holds with other content (its snapshot and log are
   * replaced). Default `false`: such a document stops the import with FST_COLLAB_IMPORT_EXISTS.
   */
  force?: boolean
}

/** What an import did. */
export interface ImportResult {
  /** Documents written. */
  imported: number
  /** Documents the target already held with exactly this state (an import run again): left as they were. */
  unchanged: number
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

// The store holds exactly this state and nothing after it: written by an earlier run of the same import.
function holdsExactly (stored: StoredDocument, state: Uint8Array): boolean {
  return stored.updates.length === 0 && stored.snapshot !== null && sameBytes(stored.snapshot, state)
}

/**
 * Writes documents into a fastify-collab store, one at a time, in the order given: each state becomes the
 * document's snapshot (`storage.compact(name, state, seq)`, with `seq` the one the store reports for the
 * document: 0 for a new one, so its next update is appended as 1), so the store loads it as it loads any
 * compacted document. Run it while no server uses those documents (before fastify-collab starts on the
 * store): a server holding one in memory would not see the import, and its next compaction would replace it.
 *
 * A document the store already holds is left alone when it holds exactly this state (so an import that
 * stopped half-way can be run again), and refused otherwise unless `force`. Each state is decoded first
 * (applied to an empty Y.Doc), so the store never gets one its load would fail on. Documents written before
 * a failure stay written.
 *
 * ```js
 * // @hocuspocus/extension-database: read every document through the app's own fetch
 * async function * documents () {
 *   for (const name of await listDocumentNames()) yield { name, state: await fetch({ documentName: name }) }
 * }
 * await importDocuments(storage, documents())
 * ```
 *
 * @param storage - the target: a `SqliteStorage`, a `PostgresStorage` or any CollabStorage. Not closed here.
 * @param documents - an iterable or async iterable of `{ name, state }`; read once, one document at a time.
 * @returns how many documents were written and how many were already there.
 * @rejects FST_COLLAB_IMPORT_INVALID_DOCUMENT when an entry is not `{ name: non-empty string, state: Uint8Array }`;
 *   FST_COLLAB_IMPORT_INVALID_STATE when a state is not a Yjs update (`cause`: Yjs's error);
 *   FST_COLLAB_IMPORT_EXISTS when the store holds the document with other content and `force` is not set;
 *   the store's own error when a load or a write fails; whatever the iterable throws.
 */
export async function importDocuments (
  storage: CollabStorage,
  documents: Iterable<ImportedDocument> | AsyncIterable<ImportedDocument>,
  options: ImportOptions = {}
): Promise<ImportResult> {
  const force = options.force === true
  const result: ImportResult = { imported: 0, unchanged: 0 }
  for await (const document of documents) {
    const { name, state } = checked(document)
    const stored = await storage.load(name)
    if (holdsExactly(stored, state)) {
      result.unchanged++
      continue
    }
    const empty = stored.snapshot === null && stored.updates.length === 0
    if (!empty && !force) throw new FST_COLLAB_IMPORT_EXISTS(name)
    // Every log entry has a seq <= stored.seq: the compaction deletes them all.
    await storage.compact(name, state, stored.seq)
    result.imported++
  }
  return result
}

function checked (document: ImportedDocument): ImportedDocument {
  const { name, state } = (document ?? {}) as Partial<ImportedDocument>
  if (typeof name !== 'string' || name === '') throw new FST_COLLAB_IMPORT_INVALID_DOCUMENT('name must be a non-empty string')
  if (!(state instanceof Uint8Array)) throw new FST_COLLAB_IMPORT_INVALID_DOCUMENT(`the state of "${name}" must be a Uint8Array (a Yjs update), got ${state === null ? 'null' : typeof state}`)
  try {
    Y.applyUpdate(new Y.Doc(), state)
  } catch (cause) {
    throw new FST_COLLAB_IMPORT_INVALID_STATE(name, { cause })
  }
  return { name, state }
}
