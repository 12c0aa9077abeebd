// Wire frames of the two collaboration protocols, built and read with lib0,
// for the benchmark's lightweight clients (see /work/shared/notes/anchors.md,
// "Yjs wire formats"). A y-websocket frame is `varUint(type) payload`; a
// Hocuspocus frame is `varString(documentName) varUint(type) payload`.
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const SYNC = 0
export const AWARENESS = 1
export const AUTH = 2
export const QUERY_AWARENESS = 3
export const CLOSE = 7
export const SYNC_STATUS = 8

export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

export const AUTH_TOKEN = 0
export const AUTH_PERMISSION_DENIED = 1
export const AUTH_AUTHENTICATED = 2

/** The empty Yjs v1 update: no structs, no deletions. */
export const EMPTY_UPDATE = new Uint8Array([0, 0])
/** The empty state vector. */
export const EMPTY_STATE_VECTOR = new Uint8Array([0])

function frame (documentName, write) {
  const encoder = encoding.createEncoder()
  if (documentName !== null) encoding.writeVarString(encoder, documentName)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** Sync sub-message: SyncStep1 (state vector), SyncStep2 or Update (an update). */
export function syncFrame (documentName, subType, payload) {
  return frame(documentName, (encoder) => {
    encoding.writeVarUint(encoder, SYNC)
    encoding.writeVarUint(encoder, subType)
    encoding.writeVarUint8Array(encoder, payload)
  })
}

export function awarenessFrame (documentName, awarenessUpdate) {
  return frame(documentName, (encoder) => {
    encoding.writeVarUint(encoder, AWARENESS)
    encoding.writeVarUint8Array(encoder, awarenessUpdate)
  })
}

/** Hocuspocus Auth Token frame, v4 layout (token, then the provider version). */
export function tokenFrame (documentName, token) {
  return frame(documentName, (encoder) => {
    encoding.writeVarUint(encoder, AUTH)
    encoding.writeVarUint(encoder, AUTH_TOKEN)
    encoding.writeVarString(encoder, token)
    encoding.writeVarString(encoder, '4.8.0')
  })
}

/**
 * An awareness update for one client, as y-protocols awareness.js encodes it:
 * varUint(count) then per client varUint(clientID) varUint(clock) varString(JSON state).
 */
export function awarenessUpdate (clientID, clock, state) {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, clientID)
  encoding.writeVarUint(encoder, clock)
  encoding.writeVarString(encoder, JSON.stringify(state))
  return encoding.toUint8Array(encoder)
}

/** The client IDs named in an awareness update. */
export function awarenessClients (update) {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  const clients = []
  for (let i = 0; i < count; i++) {
    clients.push(decoding.readVarUint(decoder))
    decoding.readVarUint(decoder)
    decoding.readVarUint8Array(decoder) // the JSON state, not decoded
  }
  return clients
}
