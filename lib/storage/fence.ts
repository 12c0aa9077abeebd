// The fencing error every store throws, built in one place so that its
// fields are the same whoever throws it: the group commit reads them to drop
// exactly the stale entries of a batch, and scale-out reads them to step down.

import type { FastifyError } from '@fastify/error'
import { FST_COLLAB_STORAGE_FENCED } from '../errors.js'

/** FST_COLLAB_STORAGE_FENCED with the fences that refused the write. */
export interface FencedError extends FastifyError {
  code: 'FST_COLLAB_STORAGE_FENCED'
  /** The documents whose recorded epoch is higher than the writer's. */
  documents: string[]
  /** The epoch recorded for each of `documents`, in the same order. */
  epochs: number[]
  /** The highest of `epochs`: for a refused `claim` or `compact`, the document's recorded epoch. */
  epoch: number
}

/**
 * Makes the FST_COLLAB_STORAGE_FENCED error a store throws when a claim, append or compaction carries an
 * epoch lower than the recorded one. `fences` maps each refused document to the epoch recorded for it (at
 * least one entry).
 */
export function fencedError (fences: ReadonlyMap<string, number>): FencedError {
  const documents = [...fences.keys()]
  const epochs = [...fences.values()]
  const epoch = Math.max(...epochs)
  const error = new FST_COLLAB_STORAGE_FENCED(documents.map((name) => JSON.stringify(name)).join(', '), epoch) as FencedError
  error.documents = documents
  error.epochs = epochs
  error.epoch = epoch
  return error
}

/** True for an FST_COLLAB_STORAGE_FENCED error made by {@link fencedError}. */
export function isFenced (error: unknown): error is FencedError {
  return error instanceof Error && (error as { code?: unknown }).code === 'FST_COLLAB_STORAGE_FENCED' &&
    Array.isArray((error as Partial<FencedError>).documents) && Array.isArray((error as Partial<FencedError>).epochs)
}
