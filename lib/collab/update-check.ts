import * as Y from 'yjs'

/** What a decoded update would do to a document. */
export interface UpdateCheck {
  /** Every struct and deletion refers only to what the document has, or to what the update itself brings. */
  integrable: boolean
  /** It carries structs (not only deletions): it can grow the document. */
  addsStructs: boolean
}

/**
 * Decodes `update` (Yjs v1) whole and tells whether `doc` can integrate it
 * now. Yjs itself would keep what it cannot integrate in
 * `store.pendingStructs` / `pendingDs`, re-merge it on every later update and
 * write it into every snapshot; this check lets the caller refuse it first.
 *
 * It mirrors Yjs's own (integrateStructs, getMissing, readAndApplyDeleteSet):
 * per client, each struct must start at or before the client's state so far
 * (a Skip leaves a hole and does not advance it); each item's origin,
 * right origin and parent item must be known once the update's structs are
 * in; each deletion must end within the client's state. `Y.parseUpdateMeta`
 * alone sees clock gaps but not missing origins or deletions.
 *
 * @throws when the update cannot be decoded (lib0's or Yjs's error): nothing
 *   was applied, since this runs before `Y.applyUpdate`.
 */
export function checkUpdate (doc: Y.Doc, update: Uint8Array): UpdateCheck {
  const { structs, ds } = Y.decodeUpdate(update)
  const { store } = doc
  const ends = new Map<number, number>()
  let client = -1
  for (const struct of structs) {
    if (struct.id.client !== client) {
      client = struct.id.client
      // Yjs reads one group per client; a second group would replace the first.
      if (ends.has(client)) return { integrable: false, addsStructs: true }
      ends.set(client, Y.getState(store, client))
    }
    if (struct instanceof Y.Skip) continue
    const end = ends.get(client) as number
    if (struct.id.clock > end) return { integrable: false, addsStructs: true }
    ends.set(client, Math.max(end, struct.id.clock + struct.length))
  }
  const known = (id: Y.ID): boolean => id.clock < (ends.get(id.client) ?? Y.getState(store, id.client))
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    const { origin, rightOrigin, parent } = struct
    if ((origin !== null && !known(origin)) || (rightOrigin !== null && !known(rightOrigin)) ||
      (parent instanceof Y.ID && !known(parent))) {
      return { integrable: false, addsStructs: true }
    }
  }
  for (const [deleter, items] of ds.clients) {
    const end = ends.get(deleter) ?? Y.getState(store, deleter)
    for (const { clock, len } of items) if (clock + len > end) return { integrable: false, addsStructs: structs.length > 0 }
  }
  return { integrable: true, addsStructs: structs.some(struct => !(struct instanceof Y.Skip)) }
}
