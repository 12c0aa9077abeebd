import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

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

type DeleteSet = ReturnType<typeof Y.createDeleteSet>

/** Writes a delete set in Yjs update format v1, as Yjs's own writeDeleteSet writes it (yjs DeleteSet.js). */
function writeDeleteSet (encoder: encoding.Encoder, ds: DeleteSet): void {
  encoding.writeVarUint(encoder, ds.clients.size)
  for (const [client, items] of [...ds.clients].sort((a, b) => b[0] - a[0])) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, items.length)
    for (const item of items) {
      encoding.writeVarUint(encoder, item.clock)
      encoding.writeVarUint(encoder, item.len)
    }
  }
}

/** A delete set in Yjs update format v1. */
export function encodeDeleteSet (ds: DeleteSet): Uint8Array {
  const encoder = encoding.createEncoder()
  writeDeleteSet(encoder, ds)
  return encoding.toUint8Array(encoder)
}

type Struct = ReturnType<typeof Y.decodeUpdate>['structs'][number]

/**
 * Whether `right` continues `left` as Yjs's store would merge them (yjs Item.js `mergeWith`): the same
 * client's next clock, inserted right after `left` with the same right neighbour, in a list (a map
 * entry's items are never merged), with content of one kind. The delete flags need no check: a decoded
 * update carries its deletions in its delete set, apart from its structs.
 */
function continues (left: Struct, right: Struct): left is Y.Item {
  return left instanceof Y.Item && right instanceof Y.Item &&
    left.id.client === right.id.client && left.id.clock + left.length === right.id.clock &&
    left.parentSub === null && right.parentSub === null &&
    right.origin !== null && Y.compareIDs(right.origin, left.lastId) &&
    Y.compareIDs(left.rightOrigin, right.rightOrigin) &&
    left.content.constructor === right.content.constructor
}

/**
 * The same update (Yjs v1) with each run of one client's consecutive insertions as one struct, as Yjs's
 * store holds them after a transaction: `Y.mergeUpdates` keeps one struct per typed character (about 7
 * bytes each), this one struct per run. Applying either gives the same document, clocks included.
 * For what the edge sends the owner (lib/scale-out/update-merge.ts): one client's burst of keystrokes.
 *
 * @throws what `Y.decodeUpdate` throws for bytes that are not an update.
 */
export function squashUpdate (update: Uint8Array): Uint8Array {
  const { structs, ds } = Y.decodeUpdate(update)
  const kept: Struct[] = []
  for (const struct of structs) {
    const last = kept[kept.length - 1]
    // ContentString, ContentAny, ContentJSON and ContentDeleted merge; the other kinds answer false.
    if (last !== undefined && continues(last, struct) && last.content.mergeWith((struct as Y.Item).content)) {
      last.length += struct.length
      continue
    }
    kept.push(struct)
  }
  if (kept.length === structs.length) return update
  // The structs part as yjs encoding.js writeStructs lays it out: per client, its structs' count, the
  // client, the first clock, then each struct. A decoded update holds each client's structs together.
  const encoder = new Y.UpdateEncoderV1()
  const runs: Struct[][] = []
  for (const struct of kept) {
    const run = runs[runs.length - 1]
    if (run !== undefined && run[0].id.client === struct.id.client) run.push(struct)
    else runs.push([struct])
  }
  encoding.writeVarUint(encoder.restEncoder, runs.length)
  for (const run of runs) {
    encoding.writeVarUint(encoder.restEncoder, run.length)
    encoder.writeClient(run[0].id.client)
    encoding.writeVarUint(encoder.restEncoder, run[0].id.clock)
    for (const struct of run) struct.write(encoder, 0)
  }
  writeDeleteSet(encoder.restEncoder, ds)
  return encoder.toUint8Array()
}
