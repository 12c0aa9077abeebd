// Fencing (Kleppmann, "How to do distributed locking", 2016): the store issues
// a fencing token (an epoch) with every claim of a document, and refuses a
// write that carries a lower one, or that would put different bytes under a
// sequence number already stored. These are the errors a store throws, built
// in one place so that their fields are the same whoever throws them: the
// group commit reads them to drop exactly the refused entries of a batch, and
// the core reads them to step the document down. The core imports this
// module; it imports nothing but the error codes.

import type { FastifyError } from '@fastify/error'
import { FST_COLLAB_STORAGE_CONFLICT, FST_COLLAB_STORAGE_FENCED } from './errors.js'

/** FST_COLLAB_STORAGE_FENCED with the fences that refused the write. */
export interface FencedError extends FastifyError {
  code: 'FST_COLLAB_STORAGE_FENCED'
  /** The documents whose recorded epoch is higher than the writer's. */
  documents: string[]
  /** The epoch recorded for each of `documents`, in the same order. */
  epochs: number[]
  /** The highest of `epochs`. */
  epoch: number
}

/** FST_COLLAB_STORAGE_CONFLICT with the log entries that collided. */
export interface ConflictError extends FastifyError {
  code: 'FST_COLLAB_STORAGE_CONFLICT'
  /** The documents with an entry whose `seq` is already stored with other bytes. */
  documents: string[]
  /** For each of `documents`, the lowest such `seq`, in the same order. */
  seqs: number[]
}

/** A store's refusal of a write: the writer's load of these documents must never write again. */
export type RefusedWriteError = FencedError | ConflictError

/**
 * Makes the FST_COLLAB_STORAGE_FENCED error a store throws when an append or compaction carries an epoch
 * lower than the recorded one. `fences` maps each refused document to the epoch recorded for it (at least
 * one entry).
 */
export function fencedError (fences: ReadonlyMap<string, number>): FencedError {
  const documents = [...fences.keys()]
  const epochs = [...fences.values()]
  const epoch = Math.max(...epochs)
  const error = new FST_COLLAB_STORAGE_FENCED(names(documents), epoch) as FencedError
  error.documents = documents
  error.epochs = epochs
  error.epoch = epoch
  return error
}

/**
 * Makes the FST_COLLAB_STORAGE_CONFLICT error a store throws when an append holds an entry whose
 * `(documentName, seq)` is already stored with different bytes. `conflicts` maps each such document to the
 * lowest colliding seq (at least one entry).
 */
export function conflictError (conflicts: ReadonlyMap<string, number>): ConflictError {
  const documents = [...conflicts.keys()]
  const error = new FST_COLLAB_STORAGE_CONFLICT(names(documents)) as ConflictError
  error.documents = documents
  error.seqs = [...conflicts.values()]
  return error
}

function names (documents: readonly string[]): string {
  return documents.map((name) => JSON.stringify(name)).join(', ')
}

/** True for an FST_COLLAB_STORAGE_FENCED error made by {@link fencedError}. */
export function isFenced (error: unknown): error is FencedError {
  return hasDocuments(error, 'FST_COLLAB_STORAGE_FENCED') && Array.isArray((error as Partial<FencedError>).epochs)
}

/** True for an FST_COLLAB_STORAGE_CONFLICT error made by {@link conflictError}. */
export function isConflict (error: unknown): error is ConflictError {
  return hasDocuments(error, 'FST_COLLAB_STORAGE_CONFLICT') && Array.isArray((error as Partial<ConflictError>).seqs)
}

/**
 * The refusal of a write in `error` or one of its causes (an `onChange`, `onStoreDocument` or load error
 * wraps the store's), or null: the document's load must step down, since another writer owns its log.
 * @internal
 */
export function refusedWrite (error: unknown): RefusedWriteError | null {
  for (let e = error; e instanceof Error; e = e.cause) if (isFenced(e) || isConflict(e)) return e
  return null
}

function hasDocuments (error: unknown, code: string): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === code && Array.isArray((error as { documents?: unknown }).documents)
}
