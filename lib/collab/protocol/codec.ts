import * as hocuspocus from './hocuspocus.js'
import * as yWebsocket from './y-websocket.js'

/** The wire format of one connection. */
export type WireProtocol = 'y-websocket' | 'hocuspocus'

/**
 * The server-to-client frames that both formats share, behind one shape, so
 * the document and broadcast code never branch on the protocol. `address` is
 * the Hocuspocus document address; y-websocket ignores it.
 */
export interface Codec {
  readonly protocol: WireProtocol
  syncStep1: (address: string, stateVector: Uint8Array) => Uint8Array
  syncStep2: (address: string, update: Uint8Array) => Uint8Array
  update: (address: string, update: Uint8Array) => Uint8Array
  awareness: (address: string, awarenessUpdate: Uint8Array) => Uint8Array
}

export const yWebsocketCodec: Codec = {
  protocol: 'y-websocket',
  syncStep1: (_address, stateVector) => yWebsocket.encodeSyncStep1(stateVector),
  syncStep2: (_address, update) => yWebsocket.encodeSyncStep2(update),
  update: (_address, update) => yWebsocket.encodeUpdate(update),
  awareness: (_address, awarenessUpdate) => yWebsocket.encodeAwareness(awarenessUpdate)
}

export const hocuspocusCodec: Codec = {
  protocol: 'hocuspocus',
  syncStep1: hocuspocus.encodeSyncStep1,
  syncStep2: hocuspocus.encodeSyncStep2,
  update: hocuspocus.encodeUpdate,
  awareness: hocuspocus.encodeAwareness
}
