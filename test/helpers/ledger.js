// Acknowledgements counted per edit, from the frames themselves. A Hocuspocus
// server answers every SyncStep2 and Update it applies with one SyncStatus
// (type 8), in order, on the socket that carried it; fastify-collab sends it
// only once the owner's fenced append committed. The provider only keeps a
// counter; here each outgoing frame's edits wait in a queue until their
// SyncStatus comes back, so every edit counted as acknowledged is one a server
// promised to keep. A socket that closes takes its unanswered frames with it:
// their edits may be stored all the same (the answer was lost with the
// socket), but they are never counted, since the client's next SyncStep2 only
// carries what the server lacks.
import { EventEmitter } from 'node:events'
import * as decoding from 'lib0/decoding'
import { ClientWebSocket } from './server.js'
import * as Y from 'yjs'

const SYNC = 0
const SYNC_STEP_2 = 1
const UPDATE = 2
const SYNC_STATUS = 8

/** The string items a Yjs update inserts (into any Y.Array): the edits it carries. */
export function itemsOf (update) {
  const items = []
  for (const struct of Y.decodeUpdate(update).structs) {
    const content = struct.content?.getContent?.() ?? []
    for (const value of content) if (typeof value === 'string') items.push(value)
  }
  return items
}

/**
 * The acknowledged edits of one writer, whatever providers and sockets it goes through. Emits 'acked'
 * (the number of edits it newly counted) whenever a SyncStatus 1 answers a frame that carried edits.
 */
export class Ledger extends EventEmitter {
  /** @type {Set<string>} edits a SyncStatus 1 answered */
  acked = new Set()
  /** SyncStatus frames received: 1 (applied) and 0 (refused). */
  statuses = { applied: 0, refused: 0 }
  /** Frames sent that carried edits, those waiting for their answer now, and those whose socket closed before it. */
  frames = { sent: 0, waiting: 0, unanswered: 0 }

  /** A `ws` WebSocket class for `WebSocketPolyfill` whose sockets report to this ledger. */
  get WebSocket () {
    const ledger = this
    return class LedgerSocket extends ClientWebSocket {
      // Per document address: the edits of each SyncStep2/Update sent and not yet answered, oldest first.
      #waiting = new Map()

      constructor (...args) {
        super(...args)
        // Registered before the provider's listener: the SyncStatus is counted before the provider sees it.
        this.on('message', (data) => this.#received(new Uint8Array(data)))
        this.on('close', () => {
          for (const queue of this.#waiting.values()) {
            ledger.frames.unanswered += queue.length
            ledger.frames.waiting -= queue.length
          }
          this.#waiting.clear()
        })
      }

      send (data, ...rest) {
        this.#sent(data instanceof Uint8Array ? data : new Uint8Array(data))
        return super.send(data, ...rest)
      }

      #sent (frame) {
        const decoder = decoding.createDecoder(frame)
        const address = decoding.readVarString(decoder)
        if (decoding.readVarUint(decoder) !== SYNC) return
        const step = decoding.readVarUint(decoder)
        if (step !== SYNC_STEP_2 && step !== UPDATE) return
        const items = itemsOf(decoding.readVarUint8Array(decoder))
        let queue = this.#waiting.get(address)
        if (queue === undefined) this.#waiting.set(address, queue = [])
        queue.push(items)
        ledger.frames.sent++
        ledger.frames.waiting++
      }

      #received (frame) {
        const decoder = decoding.createDecoder(frame)
        const address = decoding.readVarString(decoder)
        if (decoding.readVarUint(decoder) !== SYNC_STATUS) return
        const applied = decoding.readVarUint(decoder) === 1
        const items = this.#waiting.get(address)?.shift()
        if (items === undefined) throw new Error(`a SyncStatus for "${address}" answered no frame`)
        ledger.frames.waiting--
        if (!applied) {
          ledger.statuses.refused++
          return
        }
        ledger.statuses.applied++
        if (items.length === 0) return
        const before = ledger.acked.size
        for (const item of items) ledger.acked.add(item)
        ledger.emit('acked', ledger.acked.size - before)
      }
    }
  }
}

/**
 * Types one item per transaction into the Y.Array `items` of a HocuspocusProvider's document every
 * `interval` ms, as a person types: it never waits for acknowledgements. Its ledger counts which edits a
 * server acknowledged (see Ledger). `moveTo` gives the same document a new provider (as a load balancer
 * sends a client elsewhere after its server died).
 */
export class LedgerTypist {
  ledger = new Ledger()
  /** @type {string[]} every item typed, in order */
  typed = []
  #timer = null

  /**
   * @param {string} name prefix of the items, unique per typist
   * @param {(options: object) => import('@hocuspocus/provider').HocuspocusProvider} connect makes the
   *   provider, given the options to pass it (its document and WebSocketPolyfill)
   */
  constructor (name, connect) {
    this.name = name
    this.doc = new Y.Doc()
    this.provider = connect(this.#options())
  }

  #options () {
    return { document: this.doc, WebSocketPolyfill: this.ledger.WebSocket }
  }

  /** Starts typing every `interval` ms. */
  start (interval = 20) {
    this.#timer ??= setInterval(() => this.type(), interval)
  }

  /**
   * Types one item now, at the front: a Y.Array push walks the list from its last search marker to the
   * end, which costs a long run (bench/chaos.js) more with every item, and the checks read sets anyway.
   */
  type () {
    const item = `${this.name}:${this.typed.length}`
    this.typed.push(item)
    this.doc.getArray('items').unshift([item])
  }

  stop () {
    clearInterval(this.#timer)
    this.#timer = null
  }

  /** A new provider for the same document, made by `connect` (the old one is destroyed). */
  moveTo (connect) {
    this.provider.destroy()
    this.provider = connect(this.#options())
  }
}
