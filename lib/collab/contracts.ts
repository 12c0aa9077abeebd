// The contracts lib/collab/'s parts share, and the one the scale-out depends
// on (CollabHost, Router): internal, never reachable from the package's entry
// points. A leaf beside types.ts: it imports the public shapes and the pure
// protocol codecs only.
import type { FastifyBaseLogger } from 'fastify'
import type { Codec } from './protocol/codec.js'
import type { SyncMessage } from './protocol/y-websocket.js'
import type { CloseCodeValue } from '../close-codes.js'
import type { CollabLimitName } from '../names.js'
import type { Collab, CollabRequest, HookContext } from './types.js'

/** A frame a session handles once its connection is attached to the document. */
export type DocumentMessage =
  | SyncMessage
  | { type: 'awareness', update: Uint8Array }
  | { type: 'query-awareness' }
  | { type: 'stateless', payload: string }

/**
 * Whether a frame must be handled after the Update frames its client sent before it, which wait for the
 * end of the turn (turn.ts) or cross to the owner merged (scale-out): a SyncStep or Stateless frame must,
 * an awareness frame need not (awareness is not part of the document, and a client sends one with most
 * keystrokes: making it wait would split every turn into one transaction per client again).
 */
export function comesAfterUpdates (message: DocumentMessage): boolean {
  return message.type !== 'update' && message.type !== 'awareness' && message.type !== 'query-awareness'
}

/** Something a document broadcasts to: a socket session. */
export interface Receiver {
  readonly codec: Codec
  readonly address: string
  send: (frame: Uint8Array) => void
  /** Closes the socket with 4205 (Reset Connection): the client reconnects and resyncs. */
  reset: () => void
}

/**
 * A document's session as its socket sees it: a local session on a document
 * loaded here, or, with `scaleOut`, a proxy to the instance that owns it.
 */
export interface AttachedSession {
  readonly documentName: string
  readonly codec: Codec
  /** The Hocuspocus address ('' for y-websocket). */
  readonly address: string
  /** Handles a decoded client frame. */
  receive: (message: DocumentMessage, frame: Uint8Array) => void
  /** The client left (its socket closed, or it closed the document). */
  leave: () => void
  /**
   * Set on a session served by another instance (scale-out): runs the owner task `name` there, with `args`
   * v8-serialised, and resolves with its encoded outcome (see {@link CollabHost.runTask}). Answers come in
   * no particular order.
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when the session ends before the owner answered (the task may
   *   have run).
   */
  call?: (name: string, args: Uint8Array) => Promise<Uint8Array>
}

/** What a proxied session needs of the socket it serves (a Connection). */
export interface ProxiedSocket {
  /** Sends a frame to the client. */
  send: (frame: Uint8Array) => void
  /** Closes the socket with a close code and logs why, at warn. */
  fail: (code: CloseCodeValue, reason: string, error?: unknown) => void
  /** Closes the whole socket. */
  close: (code: CloseCodeValue, reason: string) => void
  /** Ends one session (the whole socket for y-websocket). */
  endSession: (session: AttachedSession) => void
  /** Stops reading from the socket (counted: each pause needs its resume). */
  pause: () => void
  resume: () => void
}

/**
 * How long this instance surely holds a document's lease (scale-out): until `validUntil`, in
 * `performance.now()` ms, which each confirmed renewal moves to the time the renewal was sent plus the
 * lease's length. Redis counts the lease from when it runs the command, later, so the lease lasts at least
 * this long. Past it, another instance may own the document: this one must not serve it again.
 */
export interface Tenure {
  readonly validUntil: number
}

/**
 * Where a document is served: here, under the fencing epoch the store issued for this claim, as long as
 * `tenure` lasts; or by another instance.
 */
export type Placement = { readonly here: true, readonly epoch: number, readonly tenure: Tenure } | { readonly here: false, readonly owner: string }

/**
 * What a session needs of the socket it serves: a Connection for a local socket, or, with `scaleOut`,
 * the owner's stand-in for a socket on another instance. Per-socket bounds live behind it, never in the
 * session.
 */
export interface SessionSocket extends ProxiedSocket {
  /** The upgraded request (a {@link RemoteRequest} on the owner of a proxied session); undefined once dropped. */
  readonly request: CollabRequest | undefined
  readonly socketId: string
  /** Sends a frame; `onWritten` runs once it has left the socket's send queue (ws `send` callback), never when dropped. */
  send: (frame: Uint8Array, onWritten?: () => void) => void
  /** Logs at warn, once per socket and limit, that a bound was met without closing the socket. */
  limitReached: (limit: CollabLimitName, details?: object) => void
  /** Publishes that a bound refused something (`fastify-collab:limit`). */
  refused: (limit: CollabLimitName) => void
}

/** A document served by another instance (scale-out). */
export interface Elsewhere {
  /** The instance that owns it. */
  readonly owner: string
}

/** What a socket asks for when it opens a session on a document (see {@link CollabHost.openSession}). */
export interface SessionInit {
  readonly documentName: string
  /** The Hocuspocus address ('' for y-websocket). */
  readonly address: string
  readonly codec: Codec
  /** Whether the session's updates are refused (`connectionConfig.readOnly`). */
  readonly readOnly: boolean
  /** The hook context onConnect and onAuthenticate made. */
  readonly context: HookContext
  readonly request: CollabRequest
  /** Asked once the document is loaded: true when the socket no longer wants the session (it closed, or its client closed the document meanwhile). */
  readonly cancelled: () => boolean
  /** The session is attached, before its greeting goes out: the socket routes its frames to it from now on. */
  readonly attached: (session: AttachedSession) => void
}

/**
 * What a scale-out needs of the collab core: the contract it depends on, so that it never imports the
 * core's modules (eslint.config.js enforces it).
 */
export interface CollabHost {
  readonly instance: Collab
  readonly log: FastifyBaseLogger
  /** The resolved bounds, by option name. */
  readonly limits: Readonly<Record<CollabLimitName, number>>
  /**
   * Opens a session of `socket` on a document served here: loads the document if needed, attaches the
   * session, greets the client (Hocuspocus: Authenticated; y-websocket: our SyncStep1; the awareness) and
   * runs `connected`.
   * @returns the session; the owner when another instance serves the document; null when `init.cancelled()`.
   * @rejects like the document's load (FST_COLLAB_CLOSED while closing, FST_COLLAB_STORAGE_LOAD, a hook's error).
   */
  openSession: (socket: SessionSocket, init: SessionInit) => Promise<AttachedSession | Elsewhere | null>
  /** The load under `epoch` of this instance steps down (see `CollabDocument`'s deposal). */
  depose: (documentName: string, epoch: number, reason: string) => void
  /**
   * Runs the owner task `name` (one an extension offers as `ownerTasks`, see owner-tasks.ts) for a document
   * served here, with the v8-serialised `args` another instance sent through a session's `call`.
   * @returns the encoded outcome, the task's error included: it never rejects.
   */
  runTask: (documentName: string, name: string, args: Uint8Array) => Promise<Uint8Array>
}

/**
 * The contract between the collab core and a scale-out (`fastify-collab/redis`): where a document is
 * served, and how a socket here reaches a document owned elsewhere. The core depends on this contract
 * only, never on the scale-out.
 */
export interface Router {
  /**
   * Where a document is served. Claims it for this instance when no live instance holds it: its lease, then
   * a new fencing epoch from the store.
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when Redis cannot be reached; FST_COLLAB_STORAGE_LOAD when the
   *   store cannot issue the epoch.
   */
  place: (documentName: string) => Promise<Placement>
  /**
   * Opens a session on `owner` for `socket`: a client's socket here (`init.request` is its FastifyRequest), or
   * a direct connection's stand-in (`init.request` is its own `RemoteRequest`, `direct: true`). The
   * owner greets the client; `init.attached` runs once the owner attached the session.
   * @returns null when `owner` no longer serves the document (it moved, or the owner is gone): place it
   *   again; or when `init.cancelled()` once the owner answered.
   */
  proxy: (socket: ProxiedSocket, owner: string, init: SessionInit) => Promise<AttachedSession | null>
  /** A document loaded under `epoch` unloaded here: its lease goes back, if that claim still holds it. */
  unloaded: (documentName: string, epoch: number) => void
  /**
   * This instance stopped serving the document it claimed under `epoch` (the store refused a write, or its
   * tenure passed): its ownership ends. Nothing happens when that claim is not the current one.
   */
  lose: (documentName: string, epoch: number, reason: string) => void
  /** The live owner of a document, or null. */
  ownerOf: (documentName: string) => Promise<string | null>
  /** Once every document here has unloaded: ends the sessions served for other instances and disconnects. */
  close: () => Promise<void>
  /** What the metrics read at scrape time. */
  stats: () => RouterStats
}

/** A scale-out's own gauges. */
export interface RouterStats {
  /** Documents this instance owns (holds the lease of). */
  ownedDocuments: number
  /** Sessions of sockets here whose documents other instances own. */
  proxiedSessions: number
  /** Sessions this owner serves for sockets on other instances. */
  servedSessions: number
}
