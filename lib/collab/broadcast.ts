import * as Y from 'yjs'
import { type Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import type { Codec } from './protocol/codec.js'
import type { Receiver } from './contracts.js'
import { encodeDeleteSet, mergeInBatches } from './protocol/merge.js'
import { Phase, atTurnEnd, type TurnEndTask } from './turn-end.js'

/**
 * Encodes one frame per wire format and address, and reuses it for every
 * receiver: the cost of encoding does not grow with the audience.
 */
export function sendToAll (receivers: Iterable<Receiver>, encode: (codec: Codec, address: string) => Uint8Array): void {
  const frames = new Map<Codec, Map<string, Uint8Array>>()
  for (const receiver of receivers) {
    let byAddress = frames.get(receiver.codec)
    if (byAddress === undefined) frames.set(receiver.codec, byAddress = new Map())
    let frame = byAddress.get(receiver.address)
    if (frame === undefined) byAddress.set(receiver.address, frame = encode(receiver.codec, receiver.address))
    receiver.send(frame)
  }
}

// Past this many updates in one turn, re-encoding the document's difference
// from the turn's start beats merging (about 20 times faster on the
// automerge-paper trace). Below it, the merge is cheap enough.
const DIFF_THRESHOLD = 32

type DeleteSet = ReturnType<typeof Y.createDeleteSet>

/**
 * The turn's changes as one update (v1): the structs added since `turnStart`
 * and only the deletions this turn made. `Y.encodeStateAsUpdate` alone would
 * carry the document's whole delete set, which grows with its history, to
 * every receiver. Its structs part is what precedes that delete set, whose
 * bytes are also all of a state-vector-current encoding but its first (0 structs).
 *
 * @returns null when the document holds pending structs: the layout differs then.
 */
function encodeTurn (doc: Y.Doc, turnStart: Map<number, number>, deleteSets: DeleteSet[]): Uint8Array | null {
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) return null
  const diff = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(turnStart))
  const allDeletes = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc))
  const structs = diff.subarray(0, diff.length - (allDeletes.length - 1))
  const deletes = encodeDeleteSet(Y.mergeDeleteSets(deleteSets))
  const update = new Uint8Array(structs.length + deletes.length)
  update.set(structs)
  update.set(deletes, structs.length)
  return update
}

/**
 * Everything a document applied during one event-loop turn, waiting to go
 * out as one update frame and one awareness frame per connection.
 */
export class Outbox implements TurnEndTask {
  private updates: Uint8Array[] = []
  // The document's state vector before this turn's first update.
  private turnStart: Map<number, number> | null = null
  // The delete sets of this turn's transactions, for the busy-turn encoding,
  // and the beforeState of the last transaction that added one.
  private deleteSets: DeleteSet[] = []
  private lastDeleting: Map<number, number> | null = null
  private awarenessClients: Set<number> | null = null

  constructor (
    private readonly doc: Y.Doc,
    private readonly awareness: Awareness,
    private readonly receivers: () => Receiver[],
    /** Called after a turn's awareness frame was encoded (the awareness prunes old clocks then). */
    private readonly afterAwareness: () => void,
    /** Told when a flush throws (it is logged there); the next turn starts clean. */
    private readonly onError: (error: unknown) => void
  ) {
    doc.on('afterTransaction', (transaction: Y.Transaction) => {
      if (transaction.deleteSet.clients.size === 0) return
      this.deleteSets.push(transaction.deleteSet)
      this.lastDeleting = transaction.beforeState
    })
  }

  /**
   * Queues an applied update for this turn's frame.
   *
   * @param beforeState the state vector before the transaction that made it (Yjs `transaction.beforeState`).
   */
  addUpdate (update: Uint8Array, beforeState: Map<number, number>): void {
    if (this.updates.length === 0) {
      this.turnStart = beforeState
      // 'afterTransaction' comes before 'update': keep only this transaction's deletions, if any.
      this.deleteSets = this.lastDeleting === beforeState ? this.deleteSets.slice(-1) : []
    }
    this.updates.push(update)
    atTurnEnd(Phase.Send, this)
  }

  /** Queues changed, renewed or removed awareness clients for this turn's frame. */
  addAwareness (clients: readonly number[]): void {
    this.awarenessClients ??= new Set()
    for (const client of clients) this.awarenessClients.add(client)
    atTurnEnd(Phase.Send, this)
  }

  /** Sends what this turn produced, encoded once, to every receiver (the senders included: the echo keeps y-websocket clients alive). */
  flush (): void {
    try {
      this.send()
    } catch (error) {
      // One document's failure must not starve the others; its clients are made to resync.
      this.onError(error)
    }
  }

  private send (): void {
    const { updates, turnStart, deleteSets, awarenessClients } = this
    this.updates = []
    this.turnStart = null
    this.deleteSets = []
    this.awarenessClients = null
    const receivers = this.receivers()
    if (updates.length > 0 && receivers.length > 0) {
      const merged = (updates.length > DIFF_THRESHOLD && turnStart !== null && encodeTurn(this.doc, turnStart, deleteSets)) ||
        mergeInBatches(updates)
      sendToAll(receivers, (codec, address) => codec.update(address, merged))
    }
    if (awarenessClients !== null) {
      if (receivers.length > 0) {
        const update = encodeAwarenessUpdate(this.awareness, [...awarenessClients])
        sendToAll(receivers, (codec, address) => codec.awareness(address, update))
      }
      this.afterAwareness()
    }
  }
}
