import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * Pure encode/decode functions for the y-websocket wire format, in the style
 * of y-protocols. One WebSocket frame carries one message; the room is named
 * by the URL, never by the frame.
 *
 * Source: y-websocket 3.1 `src/y-websocket.js`, y-protocols 1.0 `sync.js`,
 * `awareness.js` and `auth.js`.
 */

/** Top-level message types (y-websocket `messageSync` etc.). */
export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3

/** Sync sub-types (y-protocols sync.js). */
export const SYNC_STEP_1 = 0
export const SYNC_STEP_2 = 1
export const SYNC_UPDATE = 2

/** y-protocols auth.js sub-type for PermissionDenied. */
export const AUTH_PERMISSION_DENIED = 0

/** A Yjs sync message, shared by both wire formats. */
export type SyncMessage =
  | { type: 'sync-step-1', stateVector: Uint8Array }
  | { type: 'sync-step-2', update: Uint8Array }
  | { type: 'update', update: Uint8Array }

/** A decoded y-websocket client frame. */
export type YWebsocketMessage =
  | SyncMessage
  | { type: 'awareness', update: Uint8Array }
  | { type: 'query-awareness' }

/**
 * Reads a y-protocols sync sub-message (`varUint(subType)` then a
 * varByteArray) from `decoder`.
 *
 * @throws {RangeError} when the sub-type is unknown. lib0 throws its own
 *   error when the frame ends early.
 */
export function readSyncMessage (decoder: decoding.Decoder): SyncMessage {
  const subType = decoding.readVarUint(decoder)
  switch (subType) {
    case SYNC_STEP_1: return { type: 'sync-step-1', stateVector: decoding.readVarUint8Array(decoder) }
    case SYNC_STEP_2: return { type: 'sync-step-2', update: decoding.readVarUint8Array(decoder) }
    case SYNC_UPDATE: return { type: 'update', update: decoding.readVarUint8Array(decoder) }
    default: throw new RangeError(`unknown sync message type ${subType}`)
  }
}

/**
 * Decodes one frame sent by a y-websocket client.
 *
 * @param frame the binary WebSocket message
 * @throws {RangeError} on an unknown message type (clients never send Auth),
 *   or lib0's error when the frame is truncated. The caller closes the
 *   connection with 4400.
 */
export function decodeYWebsocketFrame (frame: Uint8Array): YWebsocketMessage {
  const decoder = decoding.createDecoder(frame)
  const type = decoding.readVarUint(decoder)
  switch (type) {
    case MESSAGE_SYNC: return readSyncMessage(decoder)
    case MESSAGE_AWARENESS: return { type: 'awareness', update: decoding.readVarUint8Array(decoder) }
    case MESSAGE_QUERY_AWARENESS: return { type: 'query-awareness' }
    default: throw new RangeError(`unknown y-websocket message type ${type}`)
  }
}

function frame (write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** `00 00 varByteArray(stateVector)`: SyncStep1. */
export function encodeSyncStep1 (stateVector: Uint8Array): Uint8Array {
  return frame(e => { encoding.writeVarUint(e, MESSAGE_SYNC); encoding.writeVarUint(e, SYNC_STEP_1); encoding.writeVarUint8Array(e, stateVector) })
}

/** `00 01 varByteArray(update)`: SyncStep2, the answer to a SyncStep1. */
export function encodeSyncStep2 (update: Uint8Array): Uint8Array {
  return frame(e => { encoding.writeVarUint(e, MESSAGE_SYNC); encoding.writeVarUint(e, SYNC_STEP_2); encoding.writeVarUint8Array(e, update) })
}

/** `00 02 varByteArray(update)`: an incremental Update. */
export function encodeUpdate (update: Uint8Array): Uint8Array {
  return frame(e => { encoding.writeVarUint(e, MESSAGE_SYNC); encoding.writeVarUint(e, SYNC_UPDATE); encoding.writeVarUint8Array(e, update) })
}

/** `01 varByteArray(awarenessUpdate)`. */
export function encodeAwareness (awarenessUpdate: Uint8Array): Uint8Array {
  return frame(e => { encoding.writeVarUint(e, MESSAGE_AWARENESS); encoding.writeVarUint8Array(e, awarenessUpdate) })
}

/** `02 00 varString(reason)`: y-protocols auth.js PermissionDenied. */
export function encodePermissionDenied (reason: string): Uint8Array {
  return frame(e => { encoding.writeVarUint(e, MESSAGE_AUTH); encoding.writeVarUint(e, AUTH_PERMISSION_DENIED); encoding.writeVarString(e, reason) })
}
