// The misbehaving clients of the abuse and slow-consumer scenarios (issue 7):
// each completes the handshake like a CollabClient, then stops reading its
// socket. The slow consumer only sends a WebSocket ping each second (so a
// heartbeat that counts any frame keeps it); the abuser sends SyncStep1 (empty
// state vector: "send me everything") and QueryAwareness in a loop.
import * as f from './frames.js'
import { CollabClient } from './collab-client.js'
import { clientFrame } from './ws-wire.js'

const PING = clientFrame(0x9, Buffer.alloc(0))

export class Offender extends CollabClient {
  /**
   * @param {'slow' | 'abuse'} kind
   * @param {number} maxFrames how many SyncStep1 the abuser sends at most
   * @param {ConstructorParameters<typeof CollabClient>} args
   */
  constructor (kind, maxFrames, ...args) {
    super(...args)
    this.kind = kind
    // The abuse stops after this many SyncStep1 (and as many QueryAwareness):
    // the anchors buffer every answer, and an unbounded loop would take the machine's memory.
    this.left = maxFrames
    this.closedAt = null
    this.timer = null
  }

  /** Stops reading and starts misbehaving; `t0` is the scenario's clock origin (performance.now()). */
  start (t0) {
    const socket = this.ws.socket
    socket.pause()
    socket.removeAllListeners('data')
    const mark = () => { if (this.closedAt === null) this.closedAt = performance.now() - t0 }
    socket.on('close', mark)
    socket.on('error', mark)
    const step1 = f.syncFrame(this.name, f.SYNC_STEP1, f.EMPTY_STATE_VECTOR)
    const query = this.name === null ? Uint8Array.of(f.QUERY_AWARENESS) : queryFrame(this.name)
    const tick = () => {
      if (socket.destroyed) return
      if (this.kind === 'slow') socket.write(PING)
      else {
        for (let i = 0; i < 20 && this.left > 0; i++, this.left--) {
          this.ws.send(step1)
          this.ws.send(query)
        }
      }
    }
    this.timer = setInterval(tick, this.kind === 'slow' ? 1000 : 10)
  }

  close () {
    clearInterval(this.timer)
    super.close()
  }
}

function queryFrame (name) {
  const encoded = Buffer.from(name)
  return Uint8Array.of(encoded.length, ...encoded, f.QUERY_AWARENESS)
}
