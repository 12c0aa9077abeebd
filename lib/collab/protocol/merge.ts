import * as Y from 'yjs'

// Y.mergeUpdates is super-linear in the number of inputs, so many updates are
// merged as a tree of small batches.
const MERGE_BATCH = 16

/** Merges updates (Yjs v1) in batches of 16, as a tree: the result is `Y.mergeUpdates(updates)`'s. */
export function mergeInBatches (updates: readonly Uint8Array[]): Uint8Array {
  let level = updates
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += MERGE_BATCH) {
      const batch = level.slice(i, i + MERGE_BATCH)
      next.push(batch.length === 1 ? batch[0] : Y.mergeUpdates(batch))
    }
    level = next
  }
  return level[0]
}
