// A lightweight collaboration client for the load generator: it speaks the
// y-websocket or the Hocuspocus wire format over a real WebSocket (the
// minimal client of ws-wire.js, on a bare TCP socket), but keeps no Y.Doc.
// It only records, per Yjs client ID, how far (clock) the updates it
// received reach, which is enough to know exactly when it has every update,
// at a fraction of a provider's CPU cost.
import { upgradeRequest, WireSocket } from './ws-wire.js'
import * as decoding from 'lib0/decoding'
import { forEachRange } from './update-scan.js'
import * as f from './frames.js'

export class CollabClient {
  /**
   * @param {{ port: number, path: string }} target where to upgrade (for y-websocket the path names the room)
   * @param {object} options
   * @param {'y-websocket'|'hocuspocus'} options.protocol
   * @param {string} options.documentName
   * @param {number} options.clientID the Yjs client ID this client writes with
   * @param {object} [options.awareness] awareness state sent on open
   * @param {boolean} [options.trackSelf] also count this client's own updates when they come back
   * @param {(client: number, end: number, from: number) => void} [options.onReceive] called when updates of Yjs client
   *   `client` from clock `from` (what this client held before) up to clock `end` arrive (bench/scale-out.js and the
   *   capacity suite time each update with it)
   */
  constructor (target, { protocol, documentName, clientID, awareness = null, token = 'ok', trackSelf = false, onReceive = null, truncateOver = Infinity }) {
    this.target = target
    this.protocol = protocol
    this.name = protocol === 'hocuspocus' ? documentName : null
    this.clientID = clientID
    this.awareness = awareness
    this.token = token
    this.trackSelf = trackSelf
    this.onReceive = onReceive
    // A SyncStep2 longer than this is not read (its size is kept in syncBytes): see WireSocket.
    this.truncateOver = truncateOver
    this.syncBytes = 0
    this.syncedAt = NaN
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
  async connect () {
    this.authenticated = this.name === null
    const { socket, status, rest } = await upgradeRequest(this.target.port, this.target.path)
    if (status !== 101) {
      socket.destroy()
      throw new Error(`upgrade answered ${status}`)
    }
    this.ws = new WireSocket(socket, rest, { onMessage: (data, length) => this.read(data, length), onClose: (error) => this.fail(error), truncateOver: this.truncateOver })
    if (this.name !== null) this.ws.send(f.tokenFrame(this.name, this.token))
    this.ws.send(f.syncFrame(this.name, f.SYNC_STEP1, f.EMPTY_STATE_VECTOR))
    if (this.awareness !== null) {
      this.ws.send(f.awarenessFrame(this.name, f.awarenessUpdate(this.clientID, 1, this.awareness)))
    }
    return this.until(() => this.synced && this.authenticated)
  }

  sendUpdate (update) {
    this.sent++
    this.ws.send(f.syncFrame(this.name, f.SYNC_UPDATE, update))
  }

  /** Sends updates as consecutive frames in one socket write. */
  sendUpdates (updates) {
    for (const update of updates) this.sendUpdate(update)
  }

  close () {
    this.closed = true
    this.ws?.close()
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

  read (data, length = data.length) {
    const decoder = decoding.createDecoder(data)
    if (this.name !== null) decoding.readVarUint8Array(decoder) // the document name, not decoded
    const type = decoding.readVarUint(decoder)
    if (length > data.length) this.readTruncated(decoder, type)
    else if (type === f.SYNC) this.readSync(decoder)
    else if (type === f.AWARENESS) {
      for (const id of f.awarenessClients(decoding.readVarUint8Array(decoder))) this.awarenessSeen.add(id)
    } else if (type === f.SYNC_STATUS) this.acks++
    else if (type === f.AUTH) {
      const sub = decoding.readVarUint(decoder)
      if (sub === f.AUTH_AUTHENTICATED) this.authenticated = true
      else this.fail(new Error('permission denied: ' + decoding.readVarString(decoder)))
    } else if (type === f.CLOSE) this.fail(new Error('closed by the server: ' + decoding.readVarString(decoder)))
    if (this.waiters.length > 0) this.check()
  }

  /** A message WireSocket did not buffer: only a SyncStep2 may be that long; its contents are not tracked. */
  readTruncated (decoder, type) {
    const sub = type === f.SYNC ? decoding.readVarUint(decoder) : -1
    if (sub !== f.SYNC_STEP2) return this.fail(new Error(`a message of type ${type}/${sub} longer than truncateOver`))
    this.syncBytes = decoding.readVarUint(decoder)
    this.synced = true
    if (Number.isNaN(this.syncedAt)) this.syncedAt = performance.now()
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
    if (sub === f.SYNC_STEP2) {
      this.synced = true
      this.syncBytes = payload.length
      if (Number.isNaN(this.syncedAt)) this.syncedAt = performance.now()
    }
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
      this.onReceive?.(client, end, known)
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
