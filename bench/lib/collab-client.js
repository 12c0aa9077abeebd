// A lightweight collaboration client for the load generator: it speaks the
// y-websocket or the Hocuspocus wire format on a real `ws` socket, but keeps
// no Y.Doc. It only records, per Yjs client ID, how far (clock) the updates it
// received reach, which is enough to know exactly when it has every update,
// at a fraction of a provider's CPU cost.
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import { forEachRange } from './update-scan.js'
import * as f from './frames.js'

export class CollabClient {
  /**
   * @param {string} url WebSocket URL (for y-websocket the path names the room)
   * @param {object} options
   * @param {'y-websocket'|'hocuspocus'} options.protocol
   * @param {string} options.documentName
   * @param {number} options.clientID the Yjs client ID this client writes with
   * @param {object} [options.awareness] awareness state sent on open
   * @param {boolean} [options.trackSelf] also count this client's own updates when they come back
   */
  constructor (url, { protocol, documentName, clientID, awareness = null, token = 'ok', trackSelf = false }) {
    this.url = url
    this.protocol = protocol
    this.name = protocol === 'hocuspocus' ? documentName : null
    this.clientID = clientID
    this.awareness = awareness
    this.token = token
    this.trackSelf = trackSelf
    this.clocks = new Map() // Yjs client ID -> end clock received
    this.received = 0 // clock units received from other clients (and our own, with trackSelf)
    this.gaps = 0 // updates that did not start where the previous one ended
    this.acks = 0 // Hocuspocus SyncStatus frames
    this.sent = 0 // updates and SyncStep2 frames sent (each earns one SyncStatus)
    this.awarenessSeen = new Set()
    this.synced = false
    this.waiters = []
    this.closed = null
  }

  /** Opens the socket and resolves once the first SyncStep2 (and for Hocuspocus, Authenticated) arrived. */
  connect () {
    const ws = new WebSocket(this.url, { perMessageDeflate: false, skipUTF8Validation: true })
    this.ws = ws
    ws.on('open', () => {
      if (this.name !== null) ws.send(f.tokenFrame(this.name, this.token))
      ws.send(f.syncFrame(this.name, f.SYNC_STEP1, f.EMPTY_STATE_VECTOR))
      if (this.awareness !== null) {
        ws.send(f.awarenessFrame(this.name, f.awarenessUpdate(this.clientID, 1, this.awareness)))
      }
    })
    ws.on('message', (data) => this.read(data))
    ws.on('error', (error) => this.fail(error))
    ws.on('close', (code) => this.fail(new Error(`socket closed with ${code}`)))
    this.authenticated = this.name === null
    return this.until(() => this.synced && this.authenticated)
  }

  sendUpdate (update) {
    this.sent++
    this.ws.send(f.syncFrame(this.name, f.SYNC_UPDATE, update))
  }

  /** Sends updates as consecutive frames in one socket write (the socket is corked meanwhile). */
  sendUpdates (updates) {
    const socket = this.ws._socket
    socket.cork()
    for (const update of updates) this.sendUpdate(update)
    socket.uncork()
  }

  close () {
    this.closed = true
    this.ws?.terminate()
  }

  /** Resolves when `condition()` holds, checked after every received frame. */
  until (condition) {
    if (condition()) return Promise.resolve()
    if (this.closed instanceof Error) return Promise.reject(this.closed)
    return new Promise((resolve, reject) => this.waiters.push({ condition, resolve, reject }))
  }

  fail (error) {
    if (this.closed !== null) return
    this.closed = error
    for (const waiter of this.waiters) waiter.reject(error)
    this.waiters = []
  }

  read (data) {
    const decoder = decoding.createDecoder(data)
    if (this.name !== null) decoding.readVarUint8Array(decoder) // the document name, not decoded
    const type = decoding.readVarUint(decoder)
    if (type === f.SYNC) this.readSync(decoder)
    else if (type === f.AWARENESS) {
      for (const id of f.awarenessClients(decoding.readVarUint8Array(decoder))) this.awarenessSeen.add(id)
    } else if (type === f.SYNC_STATUS) this.acks++
    else if (type === f.AUTH) {
      const sub = decoding.readVarUint(decoder)
      if (sub === f.AUTH_AUTHENTICATED) this.authenticated = true
      else this.fail(new Error('permission denied: ' + decoding.readVarString(decoder)))
    } else if (type === f.CLOSE) this.fail(new Error('closed by server'))
    if (this.waiters.length > 0) this.check()
  }

  readSync (decoder) {
    const sub = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (sub === f.SYNC_STEP1) {
      // Nothing was written before the measured phase, so the answer is empty.
      this.sent++
      this.ws.send(f.syncFrame(this.name, f.SYNC_STEP2, f.EMPTY_UPDATE))
      return
    }
    if (sub === f.SYNC_STEP2) this.synced = true
    this.track(payload)
  }

  track (update) {
    forEachRange(update, (client, from, end) => {
      if (client === this.clientID && !this.trackSelf) return
      const known = this.clocks.get(client) ?? 0
      if (end <= known) return
      if (from > known) this.gaps++
      this.received += end - known
      this.clocks.set(client, end)
    })
  }

  check () {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.condition()) return true
      waiter.resolve()
      return false
    })
  }
}
