import type { WireProtocol } from './protocol/codec.js'
import { FRAME_TYPES, frameTypeOf } from './protocol/frame-type.js'

/** The directions, protocols and types of the frame counts, in slot order (see {@link Counts.slot}). */
export const DIRECTIONS = ['in', 'out'] as const
export const PROTOCOLS: readonly WireProtocol[] = ['y-websocket', 'hocuspocus']

const TYPES = FRAME_TYPES.length
const SLOTS = DIRECTIONS.length * PROTOCOLS.length * TYPES

function protocolIndex (protocol: WireProtocol): number {
  return protocol === 'y-websocket' ? 0 : 1
}

/**
 * What the hot paths count for the metrics, per app: every frame a collab socket receives or sends, with
 * its bytes, by direction, wire protocol and message type, and every update a document applies. Plain
 * numbers, added to in place: a frame costs a few array writes, never a payload or a call into
 * prom-client, which reads these at scrape time. Made only when the app asks for metrics; the hot paths
 * hold `null` otherwise and skip.
 */
export class Counts {
  /** Frames, by {@link Counts.slot}. */
  readonly frames = new Float64Array(SLOTS)
  /** Bytes of those frames, by slot. */
  readonly bytes = new Float64Array(SLOTS)
  /** Updates applied to loaded documents (from clients, direct connections and other sources). */
  updates = 0

  /** The slot of a direction (0 in, 1 out), a protocol and a type index of FRAME_TYPES. */
  static slot (direction: number, protocol: WireProtocol, type: number): number {
    return (direction * PROTOCOLS.length + protocolIndex(protocol)) * TYPES + type
  }

  /** A frame a collab socket received. */
  received (protocol: WireProtocol, frame: Uint8Array): void {
    this.#add(Counts.slot(0, protocol, frameTypeOf(protocol, frame)), frame.length)
  }

  /** A frame a collab socket sent. */
  sent (protocol: WireProtocol, frame: Uint8Array): void {
    this.#add(Counts.slot(1, protocol, frameTypeOf(protocol, frame)), frame.length)
  }

  #add (slot: number, bytes: number): void {
    this.frames[slot]++
    this.bytes[slot] += bytes
  }
}
