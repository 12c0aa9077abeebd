// On the owner: the socket of a session whose client is connected to another
// instance (the edge). The session itself is one the core opened
// (CollabHost.openSession) on the loaded document, as for a local socket, so
// every hook, limit and acknowledgement works the same; only what it sends
// goes into the link to the edge.

import { CloseCode, type CloseCodeValue } from '../close-codes.js'
import type { RemoteRequest } from '../collab/types.js'
import type { AttachedSession, CollabHost, SessionSocket } from '../collab/contracts.js'
import { publishLimit } from '../diagnostics.js'
import type { CollabLimitName } from '../names.js'
import { EndMode, type EndModeValue, Kind } from './envelope.js'
import type { Links } from './link.js'

/** The sessions this owner serves for other instances, by edge and session number. */
export class RemoteSockets {
  readonly #byEdge = new Map<string, Map<number, RemoteSocket>>()

  constructor (readonly host: CollabHost, readonly links: Links) {}

  get (edge: string, number: number): RemoteSocket | undefined {
    return this.#byEdge.get(edge)?.get(number)
  }

  add (socket: RemoteSocket): void {
    let sessions = this.#byEdge.get(socket.edge)
    if (sessions === undefined) this.#byEdge.set(socket.edge, sessions = new Map())
    sessions.set(socket.number, socket)
  }

  delete (socket: RemoteSocket): void {
    const sessions = this.#byEdge.get(socket.edge)
    if (sessions?.get(socket.number) !== socket) return
    sessions.delete(socket.number)
    if (sessions.size === 0) this.#byEdge.delete(socket.edge)
  }

  /** The edges that have sessions here. */
  edges (): string[] {
    return [...this.#byEdge.keys()]
  }

  /** Every session from `edge` (from every edge without it), as a snapshot. */
  of (edge?: string): RemoteSocket[] {
    if (edge === undefined) return [...this.#byEdge.values()].flatMap(sessions => [...sessions.values()])
    return [...this.#byEdge.get(edge)?.values() ?? []]
  }

  /** How many sessions this owner serves for other instances. */
  get size (): number {
    let size = 0
    for (const sessions of this.#byEdge.values()) size += sessions.size
    return size
  }
}

/**
 * The owner's side of a proxied session: what `Session` calls its socket.
 * Frames go to the edge in this turn's message; ending the session tells the
 * edge how to close the client's socket.
 */
export class RemoteSocket implements SessionSocket {
  session: AttachedSession | null = null
  #ended = false
  #pauses = 0
  #warned: Set<CollabLimitName> | null = null

  constructor (
    private readonly sockets: RemoteSockets,
    /** The instance the client's socket is on. */
    readonly edge: string,
    /** The session's number on the link from that edge. */
    readonly number: number,
    readonly request: RemoteRequest
  ) {}

  get socketId (): string {
    return this.request.id
  }

  refused (limit: CollabLimitName): void {
    publishLimit(this.sockets.host.instance, limit)
  }

  limitReached (limit: CollabLimitName, details?: object): void {
    this.#warned ??= new Set()
    if (this.#warned.has(limit)) return
    this.#warned.add(limit)
    this.request.log.warn({ limit, value: this.sockets.host.limits[limit], ...details }, `collab limit reached: ${limit}`)
  }

  /** The edge stops reading the client's socket (beforeHandleMessage runs here): frames wait in its kernel, not in a queue here. */
  pause (): void {
    if (this.#pauses++ === 0 && !this.#ended) this.sockets.links.to(this.edge).add({ kind: Kind.Pause, session: this.number })
  }

  resume (): void {
    if (--this.#pauses === 0 && !this.#ended) this.sockets.links.to(this.edge).add({ kind: Kind.Resume, session: this.number })
  }

  send (frame: Uint8Array): void {
    if (this.#ended) return
    this.sockets.links.to(this.edge).send(this.number, frame)
  }

  fail (code: CloseCodeValue, reason: string, error?: unknown): void {
    if (this.#ended) return
    this.request.log.warn({ err: error, code }, `collab connection closed: ${reason}`)
    this.#end(EndMode.Socket, code, reason)
  }

  close (code: CloseCodeValue, reason: string): void {
    this.#end(EndMode.Socket, code, reason)
  }

  endSession (): void {
    this.#end(EndMode.Session, CloseCode.NORMAL, 'server closed the document')
  }

  /**
   * Ends the session without a word to the edge: the edge left it, or cannot
   * be reached (it will reset the client itself).
   */
  drop (): void {
    if (this.#ended) return
    this.#ended = true
    this.sockets.delete(this)
    this.session?.leave()
  }

  #end (mode: EndModeValue, code: number, reason: string): void {
    if (this.#ended) return
    this.sockets.links.to(this.edge).add({ kind: Kind.End, session: this.number, mode, code, reason })
    this.drop()
  }
}
