// On the edge: the Update frames one socket read brings from one client (a
// typist's burst, a provider catching up, a paste) cross to the owner as one
// frame carrying their merge. The owner applies it and, for Hocuspocus,
// answers it with one SyncStatus, which the edge gives the client once per
// frame the merge held: the client matches SyncStatus frames to the frames it
// sent, in order. Under a burst, k updates cross as one message, each run of
// the client's consecutive insertions squashed into one struct as Yjs's store
// would hold it (a typed character costs a byte or two instead of about 7),
// and their k SyncStatus frames cross back as one.

import type { Codec } from '../collab/protocol/codec.js'
import { FRAME_TYPES, frameTypeOf } from '../collab/protocol/frame-type.js'
import { mergeInBatches, squashUpdate } from '../collab/protocol/merge.js'

// Past this many bytes of held updates, they cross at once: a merged frame stays
// far below the links' bounds.
const MAX_HELD_BYTES = 64 * 1024

const SYNC_STATUS = FRAME_TYPES.indexOf('sync-status')

/** One session's Update frames on their way to the owner, and how many client frames each SyncStatus coming back answers. */
export class UpdateMerge {
  // The held frames as they came, and their updates.
  #frames: Uint8Array[] = []
  #updates: Uint8Array[] = []
  #bytes = 0
  // Hocuspocus: for every SyncStep2 or Update frame sent to the owner, in order from #head, how many client frames it stands for.
  #answers: number[] = []
  #head = 0

  constructor (
    private readonly codec: Codec,
    private readonly address: string,
    /** Sends a frame to the owner. */
    private readonly forward: (frame: Uint8Array) => void
  ) {}

  /** An Update frame from the client: held until the end of this tick, or until another frame comes. */
  update (update: Uint8Array, frame: Uint8Array): void {
    if (this.#frames.length === 0) process.nextTick(flushMerge, this)
    this.#frames.push(frame)
    this.#updates.push(update)
    this.#bytes += update.length
    if (this.#bytes >= MAX_HELD_BYTES) this.flush()
  }

  /** A frame that must follow the updates before it (see comesAfterUpdates): what is held crosses first. A SyncStep2 is answered with a SyncStatus of its own. */
  after (frame: Uint8Array, isSyncStep2: boolean): void {
    this.flush()
    if (isSyncStep2) this.#expect(1)
    this.forward(frame)
  }

  /** A frame that needs no order with the updates (awareness): it crosses at once. */
  aside (frame: Uint8Array): void {
    this.forward(frame)
  }

  /** Sends what is held, as one frame. */
  flush (): void {
    const frames = this.#frames
    if (frames.length === 0) return
    const updates = this.#updates
    this.drop()
    let merged: Uint8Array | null = null
    if (frames.length > 1) {
      try {
        merged = this.codec.update(this.address, squashUpdate(mergeInBatches(updates)))
      } catch {
        // An update Yjs cannot decode: the frames cross as they came, and the owner refuses that one (4400).
      }
    }
    if (merged !== null) {
      this.#expect(frames.length)
      this.forward(merged)
      return
    }
    for (const frame of frames) {
      this.#expect(1)
      this.forward(frame)
    }
  }

  /** Drops what is held (the session ended: nobody waits for it). */
  drop (): void {
    this.#frames = []
    this.#updates = []
    this.#bytes = 0
  }

  /** How many times a frame from the owner goes to the client: a SyncStatus once per client frame it answers, anything else once. */
  copiesOf (frame: Uint8Array): number {
    if (this.codec.protocol !== 'hocuspocus' || frameTypeOf('hocuspocus', frame) !== SYNC_STATUS || this.#head === this.#answers.length) return 1
    const copies = this.#answers[this.#head++]
    // Answered entries are dropped when none are left, or in bulk: a session that always has frames in flight never drains.
    if (this.#head === this.#answers.length || this.#head >= 1024) {
      this.#answers = this.#answers.slice(this.#head)
      this.#head = 0
    }
    return copies
  }

  #expect (frames: number): void {
    if (this.codec.protocol === 'hocuspocus') this.#answers.push(frames)
  }
}

// Shared by every session: process.nextTick with an argument instead of a closure.
function flushMerge (merge: UpdateMerge): void {
  merge.flush()
}
