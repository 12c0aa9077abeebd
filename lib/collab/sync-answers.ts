// The SyncStep2 answers of one document, encoded once per state vector, wire format and address, and
// shared by every session that asks with the same state vector until the document next changes. A join
// storm on a large document is many clients sending the same SyncStep1 (most an empty state vector, a
// reconnecting tab the one it last had): encoding the whole state for each would cost each joiner the
// document's size in CPU and memory, where one frame in every send queue costs it once.
import * as Y from 'yjs'
import type { Codec } from './protocol/codec.js'

// Distinct answers kept at once: joiners share a few state vectors (empty, or a recent state); past
// this many the oldest goes, so a stream of distinct ones cannot grow the cache.
const MAX_ANSWERS = 8

/** A document's encoded SyncStep2 answers, valid until it changes (see {@link SyncAnswers.clear}). */
export class SyncAnswers {
  readonly #frames = new Map<string, Uint8Array>()

  constructor (private readonly document: Y.Doc) {}

  /** The SyncStep2 frame answering `stateVector`: the document's state past it, in `codec`'s format for `address`. */
  get (codec: Codec, address: string, stateVector: Uint8Array): Uint8Array {
    // latin1 maps each byte to one character: the key is exact and cheap to build.
    const key = `${codec.protocol}\0${address}\0${Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('latin1')}`
    let frame = this.#frames.get(key)
    if (frame === undefined) {
      frame = codec.syncStep2(address, Y.encodeStateAsUpdate(this.document, stateVector))
      if (this.#frames.size === MAX_ANSWERS) this.#frames.delete(this.#frames.keys().next().value as string)
      this.#frames.set(key, frame)
    }
    return frame
  }

  /** The document changed: every answer encoded so far lacks the change. */
  clear (): void {
    if (this.#frames.size > 0) this.#frames.clear()
  }
}
