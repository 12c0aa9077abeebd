// Every call the storage extension makes to its store goes through here, so
// each one is an operation on `fastify-collab:store` (a TracingChannel) when
// anyone listens, and costs one function call when nobody does.

import { type InstanceIdentity, storeChannel, type StoreOperation, type StoreTrace } from '../diagnostics.js'
import type { CollabStorage, LogEntry, StoredDocument } from './storage.js'

function bytesOf (entries: readonly LogEntry[]): number {
  let bytes = 0
  for (const entry of entries) bytes += entry.update.byteLength
  return bytes
}

/**
 * `storage` with its load, claim, append and compact traced on `fastify-collab:store`.
 * @param instance the app's `fastify.collab` once a hook has told it (undefined before).
 */
export function tracedStorage (storage: CollabStorage, instance: () => InstanceIdentity | undefined): CollabStorage {
  function trace<T> (operation: StoreOperation, documentName: string | undefined, updates: number | undefined, bytes: (() => number) | undefined, call: () => T | Promise<T>): T | Promise<T> {
    if (!storeChannel.hasSubscribers) return call()
    const context: StoreTrace = { instance: instance(), operation, documentName, updates, bytes: bytes?.() }
    // A synchronous store (SQLite) throws rather than rejects: the async function makes both a rejection.
    return storeChannel.tracePromise(async () => await call(), context)
  }
  const traced: CollabStorage = {
    load: (documentName): StoredDocument | Promise<StoredDocument> => trace('load', documentName, undefined, undefined, () => storage.load(documentName)),
    append: (entries) => trace('append', undefined, entries.length, () => bytesOf(entries), () => storage.append(entries)),
    compact: (documentName, state, upToSeq, epoch) => trace('compact', documentName, undefined, () => state.byteLength, () => storage.compact(documentName, state, upToSeq, epoch)),
    close: () => storage.close()
  }
  const { claim } = storage
  if (typeof claim === 'function') traced.claim = (documentName) => trace('claim', documentName, undefined, undefined, () => claim.call(storage, documentName))
  return traced
}
