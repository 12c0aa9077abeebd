import type { WireProtocol } from './codec.js'
import * as hocuspocus from './hocuspocus.js'
import * as yWebsocket from './y-websocket.js'

/**
 * The message types of both wire formats, in both directions, as counted by the metrics. `other` is a
 * frame that is not one of them (malformed, or a type neither side sends).
 */
export const FRAME_TYPES = [
  'sync-step-1', 'sync-step-2', 'update', 'awareness', 'auth', 'query-awareness',
  'stateless', 'close', 'sync-status', 'ping', 'pong', 'other'
] as const

export type FrameType = typeof FRAME_TYPES[number]

const SYNC_STEP_1 = 0
const SYNC_STEP_2 = 1
const UPDATE = 2
const AWARENESS = 3
const AUTH = 4
const QUERY_AWARENESS = 5
const STATELESS = 6
const CLOSE = 7
const SYNC_STATUS = 8
const PING = 9
const PONG = 10
const OTHER = 11

// y-protocols sync sub-types 0, 1, 2, in that order.
const SYNC_TYPES = [SYNC_STEP_1, SYNC_STEP_2, UPDATE]

function syncType (subType: number | undefined): number {
  return subType === undefined ? OTHER : SYNC_TYPES[subType] ?? OTHER
}

/**
 * The index in {@link FRAME_TYPES} of a frame's message type, read from its first bytes without decoding
 * it: cheap enough for every frame sent and received. Both formats lay a frame out the same way in both
 * directions (y-websocket: `varUint(type) …`; Hocuspocus: `varString(address) varUint(type) …`, or a bare
 * Ping/Pong byte), and every type is below 128, so one byte.
 */
export function frameTypeOf (protocol: WireProtocol, frame: Uint8Array): number {
  if (protocol === 'y-websocket') {
    switch (frame[0]) {
      case yWebsocket.MESSAGE_SYNC: return syncType(frame[1])
      case yWebsocket.MESSAGE_AWARENESS: return AWARENESS
      case yWebsocket.MESSAGE_AUTH: return AUTH
      case yWebsocket.MESSAGE_QUERY_AWARENESS: return QUERY_AWARENESS
      default: return OTHER
    }
  }
  if (frame.length === 1) return frame[0] === hocuspocus.TYPE_PING ? PING : frame[0] === hocuspocus.TYPE_PONG ? PONG : OTHER
  // The address: a lib0 varUint length (7 bits a byte, high bit set on all but the last), then its bytes.
  let at = 0
  let length = 0
  for (let shift = 0; at < frame.length && shift < 35; shift += 7) {
    const byte = frame[at++]
    length += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) break
  }
  at += length
  switch (frame[at]) {
    case hocuspocus.TYPE_SYNC: return syncType(frame[at + 1])
    case hocuspocus.TYPE_AWARENESS: return AWARENESS
    case hocuspocus.TYPE_AUTH: return AUTH
    case hocuspocus.TYPE_QUERY_AWARENESS: return QUERY_AWARENESS
    case hocuspocus.TYPE_STATELESS: return STATELESS
    case hocuspocus.TYPE_CLOSE: return CLOSE
    case hocuspocus.TYPE_SYNC_STATUS: return SYNC_STATUS
    default: return OTHER
  }
}
