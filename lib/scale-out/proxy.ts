// On the edge: a session whose document is owned by another instance. The
// client's socket stays here (with its connection hooks, its auth queue and
// its per-socket limits); its frames go to the owner as they arrive (the
// Update frames of one socket read merged into one: update-merge.ts), and
// what the owner sends comes back and is written to the socket unchanged.

import { CloseCode } from '../close-codes.js'
import { FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import type { Codec } from '../collab/protocol/codec.js'
import type { CloseCodeValue } from '../close-codes.js'
import { type AttachedSession, type DocumentMessage, type ProxiedSocket, comesAfterUpdates } from '../collab/contracts.js'
import { EndMode, type EndModeValue, Kind } from './envelope.js'
import type { Links } from './link.js'
import { UpdateMerge } from './update-merge.js'

/** The proxied sessions of this edge, by their number on the links. */
export class Proxies {
  readonly #sessions = new Map<number, ProxySession>()
  #next = 0

  constructor (readonly links: Links) {}

  /** A new session number: unique among this instance's links for its lifetime. */
  nextNumber (): number {
    return ++this.#next
  }

  get (number: number): ProxySession | undefined {
    return this.#sessions.get(number)
  }

  add (session: ProxySession): void {
    this.#sessions.set(session.number, session)
  }

  delete (session: ProxySession): void {
    if (this.#sessions.get(session.number) === session) this.#sessions.delete(session.number)
  }

  /** Every session proxied to `owner` (all of them without `owner`), as a snapshot. */
  of (owner?: string): ProxySession[] {
    const sessions = [...this.#sessions.values()]
    return owner === undefined ? sessions : sessions.filter(session => session.owner === owner)
  }

  /** How many sessions this edge proxies. */
  get size (): number {
    return this.#sessions.size
  }

  /** The owners this edge proxies to. */
  owners (): string[] {
    return [...new Set(this.of().map(session => session.owner))]
  }
}

/**
 * One client session served by another instance. The socket treats it as it
 * treats a local Session: it hands it frames and tells it when the client
 * leaves.
 */
export class ProxySession implements AttachedSession {
  #left = false
  readonly #pausedFor = new Set<'owner' | 'link'>()
  // Owner tasks asked of the owner and not answered yet, by call number.
  readonly #calls = new Map<number, { resolve: (outcome: Uint8Array) => void, reject: (error: Error) => void }>()
  #nextCall = 0
  readonly #merge: UpdateMerge

  constructor (
    private readonly proxies: Proxies,
    private readonly socket: ProxiedSocket,
    /** The instance that owns the document. */
    readonly owner: string,
    /** This session's number on the links to and from the owner. */
    readonly number: number,
    readonly documentName: string,
    readonly codec: Codec,
    /** The Hocuspocus address ('' for y-websocket). */
    readonly address: string
  ) {
    this.#merge = new UpdateMerge(codec, address, frame => this.proxies.links.to(this.owner).add({ kind: Kind.Frame, session: this.number, frame }))
  }

  /** A client frame, already decoded here (so it is well formed): it goes to the owner as it came, or merged with the other Update frames of its socket read. */
  receive (message: DocumentMessage, frame: Uint8Array): void {
    if (this.#left) return
    if (message.type === 'update') this.#merge.update(message.update, frame)
    else if (comesAfterUpdates(message)) this.#merge.after(frame, message.type === 'sync-step-2')
    else this.#merge.aside(frame)
  }

  /** The client left (its socket closed, or it closed this document): the owner detaches the session. */
  leave (): void {
    if (this.#left) return
    // What the client sent before it left is the owner's to apply.
    this.#merge.flush()
    this.#stop()
    this.proxies.links.to(this.owner).add({ kind: Kind.Leave, session: this.number })
  }

  // No longer served: out of the registry, its pauses given back (the socket may serve other documents),
  // and its calls unanswered for good.
  #stop (): void {
    this.#left = true
    this.#merge.drop()
    this.proxies.delete(this)
    for (let i = this.#pausedFor.size; i > 0; i--) this.socket.resume()
    this.#pausedFor.clear()
    const calls = [...this.#calls.values()]
    this.#calls.clear()
    for (const { reject } of calls) reject(this.#unanswered())
  }

  #unanswered (): Error {
    return new FST_COLLAB_SCALE_OUT_UNAVAILABLE(this.documentName, { cause: new Error(`the session on instance ${this.owner} ended before it answered`) })
  }

  /** Runs an owner task on the owner, for this session's document (see AttachedSession.call). */
  call (name: string, args: Uint8Array): Promise<Uint8Array> {
    if (this.#left) return Promise.reject(this.#unanswered())
    const call = ++this.#nextCall
    return new Promise((resolve, reject) => {
      this.#calls.set(call, { resolve, reject })
      this.proxies.links.to(this.owner).add({ kind: Kind.Call, session: this.number, call, name, args })
    })
  }

  /** The owner's answer to a call. */
  answered (call: number, outcome: Uint8Array): void {
    const pending = this.#calls.get(call)
    if (pending === undefined) return
    this.#calls.delete(call)
    pending.resolve(outcome)
  }

  /**
   * A frame from the owner for the client (the owner greets it too: Authenticated comes from there); a
   * SyncStatus goes once for each client frame the merged frame it answers held.
   */
  deliver (frame: Uint8Array): void {
    if (this.#left) return
    for (let copies = this.#merge.copiesOf(frame); copies > 0; copies--) this.socket.send(frame)
  }

  /**
   * Stops (true) or starts again (false) reading the client's socket, for one
   * reason: the owner asked (its beforeHandleMessage runs), or the link to the
   * owner holds more than half of maxLinkBytes. Each reason pauses at most once.
   */
  throttle (reason: 'owner' | 'link', paused: boolean): void {
    if (this.#left || this.#pausedFor.has(reason) === paused) return
    if (paused) {
      this.#pausedFor.add(reason)
      this.socket.pause()
    } else {
      this.#pausedFor.delete(reason)
      this.socket.resume()
    }
  }

  /** The owner ended the session: close the client's socket, or only its document. */
  end (mode: EndModeValue, code: number, reason: string): void {
    if (this.#left) return
    this.#stop()
    if (mode === EndMode.Session) this.socket.endSession(this)
    // The owner sends only the codes of CloseCode (see RemoteSocket).
    else this.socket.close(code as CloseCodeValue, reason)
  }

  /**
   * Delivery is in doubt (a lost message, the owner unreachable): the client
   * reconnects (4205) and its own SyncStep1/SyncStep2 exchange repairs what
   * was lost, with whichever instance owns the document then.
   */
  reset (reason: string): void {
    if (this.#left) return
    this.leave()
    this.socket.fail(CloseCode.RESET_CONNECTION, `Reset Connection: ${reason}`)
  }
}
