import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readSyncMessage, type SyncMessage, SYNC_STEP_1, SYNC_STEP_2, SYNC_UPDATE } from './y-websocket.js'

/**
 * Pure encode/decode functions for the Hocuspocus v2–v4 wire format. Every
 * frame is `varString(address) varUint(type) payload`, in both directions,
 * so one socket carries many documents. The address is the document name, or
 * `name \0 sessionId` when the provider enables `sessionAwareness`.
 *
 * Source: @hocuspocus/provider 4.8 `src/types.ts`, `src/OutgoingMessages/*`,
 * @hocuspocus/common 4.8 `src/auth.ts` and `src/routingKey.ts`.
 */

export const TYPE_SYNC = 0
export const TYPE_AWARENESS = 1
export const TYPE_AUTH = 2
export const TYPE_QUERY_AWARENESS = 3
/** Server-internal in Hocuspocus; never sent to a client. */
export const TYPE_SYNC_REPLY = 4
export const TYPE_STATELESS = 5
/** Server-internal in Hocuspocus; refused from a client. */
export const TYPE_BROADCAST_STATELESS = 6
export const TYPE_CLOSE = 7
export const TYPE_SYNC_STATUS = 8
export const TYPE_PING = 9
export const TYPE_PONG = 10

export const AUTH_TOKEN = 0
export const AUTH_PERMISSION_DENIED = 1
export const AUTH_AUTHENTICATED = 2

/** A decoded Hocuspocus client frame. */
export type HocuspocusMessage =
  | { type: 'ping' }
  | { type: 'pong' }
  | ({ address: string } & (
    | SyncMessage
    | { type: 'awareness', update: Uint8Array }
    | { type: 'auth', token: string, providerVersion: string | undefined }
    | { type: 'query-awareness' }
    | { type: 'stateless', payload: string }
    | { type: 'close' }
  ))

/**
 * Splits an address into the document name and the optional session id
 * (@hocuspocus/common `parseRoutingKey`: the separator is `\0`).
 */
export function parseAddress (address: string): { documentName: string, sessionId: string | null } {
  const index = address.indexOf('\0')
  if (index === -1) return { documentName: address, sessionId: null }
  return { documentName: address.slice(0, index), sessionId: address.slice(index + 1) }
}

/**
 * Decodes one frame sent by a Hocuspocus provider.
 *
 * A bare one-byte `09` is a connection-level Ping and `0a` a Pong (v4); a
 * longer frame starting with 9 is a 9-byte address.
 *
 * @throws {RangeError} on an unknown type, on SyncReply (4), SyncStatus (8) or
 *   BroadcastStateless (6), which a client never sends, and on an Auth
 *   sub-type other than Token; lib0's error on a truncated frame. The caller
 *   closes the connection with 4400.
 */
export function decodeHocuspocusFrame (frame: Uint8Array): HocuspocusMessage {
  if (frame.length === 1 && frame[0] === TYPE_PING) return { type: 'ping' }
  if (frame.length === 1 && frame[0] === TYPE_PONG) return { type: 'pong' }
  const decoder = decoding.createDecoder(frame)
  const address = decoding.readVarString(decoder)
  const type = decoding.readVarUint(decoder)
  switch (type) {
    case TYPE_SYNC: return { address, ...readSyncMessage(decoder) }
    case TYPE_AWARENESS: return { address, type: 'awareness', update: decoding.readVarUint8Array(decoder) }
    case TYPE_AUTH: {
      const subType = decoding.readVarUint(decoder)
      if (subType !== AUTH_TOKEN) throw new RangeError(`unexpected auth message type ${subType} from a client`)
      const token = decoding.readVarString(decoder)
      // v4 providers append their version; v2 and v3 do not.
      const providerVersion = decoding.hasContent(decoder) ? decoding.readVarString(decoder) : undefined
      return { address, type: 'auth', token, providerVersion }
    }
    case TYPE_QUERY_AWARENESS: return { address, type: 'query-awareness' }
    case TYPE_STATELESS: return { address, type: 'stateless', payload: decoding.readVarString(decoder) }
    case TYPE_CLOSE: return { address, type: 'close' }
    case TYPE_SYNC_REPLY:
    case TYPE_BROADCAST_STATELESS:
    case TYPE_SYNC_STATUS:
      throw new RangeError(`Hocuspocus message type ${type} is server-side only; a client never sends it`)
    default: throw new RangeError(`unexpected Hocuspocus message type ${type} from a client`)
  }
}

/** A decoded Hocuspocus server frame, as a provider reads it. */
export type HocuspocusServerMessage =
  | { type: 'ping' }
  | { type: 'pong' }
  | ({ address: string } & (
    | SyncMessage
    | { type: 'awareness', update: Uint8Array }
    | { type: 'authenticated', readOnly: boolean }
    | { type: 'permission-denied', reason: string }
    | { type: 'query-awareness' }
    | { type: 'stateless', payload: string }
    | { type: 'close', reason: string }
    | { type: 'sync-status', applied: boolean }
  ))

/**
 * Decodes one frame a Hocuspocus server sends, as @hocuspocus/provider 4.8 reads it (`MessageReceiver`):
 * what a server-side stand-in for a provider (a direct connection on an instance that does not own the
 * document) reads from the owner.
 *
 * @throws {RangeError} on a type a server never sends (Auth Token, SyncReply, BroadcastStateless) or an
 *   unknown one; lib0's error on a truncated frame.
 */
export function decodeHocuspocusServerFrame (frame: Uint8Array): HocuspocusServerMessage {
  if (frame.length === 1 && frame[0] === TYPE_PING) return { type: 'ping' }
  if (frame.length === 1 && frame[0] === TYPE_PONG) return { type: 'pong' }
  const decoder = decoding.createDecoder(frame)
  const address = decoding.readVarString(decoder)
  const type = decoding.readVarUint(decoder)
  switch (type) {
    case TYPE_SYNC: return { address, ...readSyncMessage(decoder) }
    case TYPE_AWARENESS: return { address, type: 'awareness', update: decoding.readVarUint8Array(decoder) }
    case TYPE_AUTH: {
      const subType = decoding.readVarUint(decoder)
      if (subType === AUTH_AUTHENTICATED) return { address, type: 'authenticated', readOnly: decoding.readVarString(decoder) === 'readonly' }
      if (subType === AUTH_PERMISSION_DENIED) return { address, type: 'permission-denied', reason: decoding.readVarString(decoder) }
      throw new RangeError(`unexpected auth message type ${subType} from a server`)
    }
    case TYPE_QUERY_AWARENESS: return { address, type: 'query-awareness' }
    case TYPE_STATELESS: return { address, type: 'stateless', payload: decoding.readVarString(decoder) }
    case TYPE_CLOSE: return { address, type: 'close', reason: decoding.readVarString(decoder) }
    case TYPE_SYNC_STATUS: return { address, type: 'sync-status', applied: decoding.readVarUint(decoder) === 1 }
    default: throw new RangeError(`unexpected Hocuspocus message type ${type} from a server`)
  }
}

function frame (address: string, type: number, write?: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, address)
  encoding.writeVarUint(encoder, type)
  if (write !== undefined) write(encoder)
  return encoding.toUint8Array(encoder)
}

/** `address 00 00 varByteArray(stateVector)`. */
export function encodeSyncStep1 (address: string, stateVector: Uint8Array): Uint8Array {
  return frame(address, TYPE_SYNC, e => { encoding.writeVarUint(e, SYNC_STEP_1); encoding.writeVarUint8Array(e, stateVector) })
}

/** `address 00 01 varByteArray(update)`. */
export function encodeSyncStep2 (address: string, update: Uint8Array): Uint8Array {
  return frame(address, TYPE_SYNC, e => { encoding.writeVarUint(e, SYNC_STEP_2); encoding.writeVarUint8Array(e, update) })
}

/** `address 00 02 varByteArray(update)`. */
export function encodeUpdate (address: string, update: Uint8Array): Uint8Array {
  return frame(address, TYPE_SYNC, e => { encoding.writeVarUint(e, SYNC_UPDATE); encoding.writeVarUint8Array(e, update) })
}

/** `address 01 varByteArray(awarenessUpdate)`. */
export function encodeAwareness (address: string, awarenessUpdate: Uint8Array): Uint8Array {
  return frame(address, TYPE_AWARENESS, e => { encoding.writeVarUint8Array(e, awarenessUpdate) })
}

/** `address 02 02 varString(scope)`: Authenticated, scope `read-write` or `readonly`. */
export function encodeAuthenticated (address: string, readOnly: boolean): Uint8Array {
  return frame(address, TYPE_AUTH, e => { encoding.writeVarUint(e, AUTH_AUTHENTICATED); encoding.writeVarString(e, readOnly ? 'readonly' : 'read-write') })
}

/** `address 02 01 varString(reason)`: PermissionDenied. */
export function encodePermissionDenied (address: string, reason: string): Uint8Array {
  return frame(address, TYPE_AUTH, e => { encoding.writeVarUint(e, AUTH_PERMISSION_DENIED); encoding.writeVarString(e, reason) })
}

/** `address 05 varString(payload)`: a Stateless message. */
export function encodeStateless (address: string, payload: string): Uint8Array {
  return frame(address, TYPE_STATELESS, e => { encoding.writeVarString(e, payload) })
}

/** `address 08 varUint(applied ? 1 : 0)`: SyncStatus, the acknowledgement of a SyncStep2 or Update. */
export function encodeSyncStatus (address: string, applied: boolean): Uint8Array {
  return frame(address, TYPE_SYNC_STATUS, e => { encoding.writeVarUint(e, applied ? 1 : 0) })
}

/** `address 07 varString(reason)`: the server closes this document's session. */
export function encodeClose (address: string, reason: string): Uint8Array {
  return frame(address, TYPE_CLOSE, e => { encoding.writeVarString(e, reason) })
}

/** The bare one-byte Pong (`0a`), the answer to a Ping. */
export const PONG_FRAME = Uint8Array.of(TYPE_PONG)
