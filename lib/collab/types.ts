// The public shapes of lib/collab/: what `fastify.collab` is, and what hooks
// receive. A leaf: it imports nothing from this folder, so every other module
// may depend on it (eslint.config.js enforces the order). The contracts the
// folder's parts, and the scale-out, share among themselves are internal and
// live in contracts.ts.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

/** Free-form per-connection state, merged from `handleConnection`, `onConnect` and `onAuthenticate`. */
export type HookContext = Record<string, unknown>

/**
 * The upgraded request as the owner of a document sees it when the client's socket is on another instance
 * (scale-out): the request's data without its methods. Tell it from a `FastifyRequest` by `remote`.
 * `log` is the owner's logger with `reqId` set.
 */
export interface RemoteRequest {
  /** Always true: tells a snapshot from a live `FastifyRequest`. */
  readonly remote: true
  /** The instance the client's socket is connected to (its `fastify.collab.instanceId`). */
  readonly instanceId: string
  readonly id: string
  readonly method: string
  readonly url: string
  readonly hostname: string
  readonly ip: string
  readonly headers: FastifyRequest['headers']
  readonly query: unknown
  readonly params: unknown
  readonly log: FastifyBaseLogger
}

/**
 * What document hooks receive as `request`: the upgraded `FastifyRequest` when the client's socket is on this
 * instance, a {@link RemoteRequest} when it is on another (scale-out). Connection hooks (`onConnect`,
 * `onAuthenticate`) always run where the socket is, with the `FastifyRequest`.
 */
export type CollabRequest = FastifyRequest | RemoteRequest

/**
 * A transaction origin that is neither a socket nor a direct connection,
 * e.g. another instance relaying through Redis. `source` tells them apart.
 */
export interface RemoteOrigin {
  readonly source: 'remote'
  readonly context?: HookContext
  readonly [key: string]: unknown
}

/** Something that keeps a document loaded and can make changes to it. */
export interface Attachment {
  readonly source: 'connection' | 'direct'
  readonly context: HookContext
}

/** Every update a document applies carries one of these as its Yjs transaction origin (or null for server-side edits made outside a direct connection). */
export type CollabOrigin = Attachment | RemoteOrigin

/**
 * One loaded document: a Y.Doc with its awareness and its connections. Hooks
 * receive it as `document`, as Hocuspocus's Document.
 */
export interface CollabDocument extends Y.Doc {
  /** The document name, byte-exact as the client sent it. */
  readonly name: string
  /** The shared awareness. Its per-instance cleanup interval is stopped: states leave with their connection. */
  readonly awareness: Awareness
  /** Socket sessions and direct connections. */
  readonly connections: ReadonlySet<Attachment>
  /** Settles when the load ends; rejects with the load hook's error. */
  readonly ready: Promise<void>
  /** Whether the document is loaded and accepts changes: false while loading, once `fastify.close()` began, and after unloading. */
  readonly isLive: boolean
  /** Connections attached (socket sessions and direct connections). */
  getConnectionsCount: () => number
  /**
   * Applies a Yjs update (v1) with `origin` as the transaction origin.
   *
   * @returns the onChange chain for it; when nothing changed, that of the latest change still pending (the
   *   update may hold that change: a durable store acknowledges it only once written); undefined when no
   *   change is pending or no onChange hook exists. It rejects when any onChange hook throws.
   * @throws {FST_COLLAB_LOADING} while the document loads (await `ready` first).
   * @throws {FST_COLLAB_CLOSED} once `fastify.close()` began or after unloading.
   * @throws {FST_COLLAB_STORE_BACKLOG} while the updates not yet through onChange pass `maxUnstoredBytes`.
   * @throws {FST_COLLAB_DOCUMENT_TOO_LARGE} when new structs would grow the document past `maxDocumentBytes`.
   * @throws {FST_COLLAB_UPDATE_NOT_INTEGRABLE} when the update depends on structs the document lacks.
   * @throws when the update cannot be decoded (Yjs's error). In every case the document is unchanged.
   */
  applyUpdate: (update: Uint8Array, origin: CollabOrigin | null) => Promise<void> | undefined
  /**
   * Runs `fn` in one transaction with `origin`; returns the onChange chain.
   * @throws like {@link applyUpdate} (FST_COLLAB_LOADING, FST_COLLAB_CLOSED, FST_COLLAB_STORE_BACKLOG), before `fn` runs.
   */
  transactAs: (fn: () => void, origin: CollabOrigin | null) => Promise<void> | undefined
  /**
   * Applies an awareness update (y-protocols awareness.js) with `origin`. It is
   * validated first (`maxAwarenessStateBytes`, nesting), so a refused one changes nothing.
   * @returns true when a new state was left out because the document holds `maxAwarenessStates`.
   * @throws FST_COLLAB_BAD_FRAME, FST_COLLAB_AWARENESS_TOO_LARGE or FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS.
   */
  applyAwarenessUpdate: (update: Uint8Array, origin: CollabOrigin | null) => boolean
  /** The whole awareness as one update, or null when nobody has a state. */
  encodeAwareness: () => Uint8Array | null
  /** Sends a Stateless message (Hocuspocus type 5) to every Hocuspocus connection of this document. */
  broadcastStateless: (payload: string) => void
  /** The awareness client IDs whose latest state came from `attachment`. */
  awarenessClientsOf: (attachment: Attachment) => number[]
}

/**
 * One document on one socket: what hooks receive as `connection`, and the
 * transaction origin of every update it sends. A y-websocket socket has one;
 * a Hocuspocus socket has one per document it opened.
 */
export interface Session extends Attachment {
  readonly source: 'connection'
  readonly document: CollabDocument
  /** The Hocuspocus address: the document name, or `name \0 sessionId`. */
  readonly address: string
  /** Whether this session's updates are refused. */
  readonly readOnly: boolean
  readonly documentName: string
  /**
   * The upgraded request (a {@link RemoteRequest} on the owner of a session proxied from another
   * instance). Kept for the socket's lifetime when any of onChange, onStateless, onDisconnect,
   * beforeHandleMessage or onAwarenessUpdate is registered (or the socket may open more documents);
   * otherwise undefined after the handshake, to keep idle connections small.
   */
  readonly request: CollabRequest | undefined
  /** The upgraded request's id. */
  readonly socketId: string
  /** Sends a raw frame on the socket (dropped when the socket is not open). */
  send: (frame: Uint8Array) => void
  /** Sends a Stateless message (Hocuspocus type 5); y-websocket has none: returns false and sends nothing. */
  sendStateless: (payload: string) => boolean
  /** Ends this session: a Hocuspocus client gets CLOSE (7) for this document, a y-websocket socket closes with 1000. */
  close: () => void
  /** Closes the whole socket with 4205 (Reset Connection), as `closeConnections()` does; clients reconnect. */
  reset: () => void
}

/**
 * Server-side access to a document, as Hocuspocus's DirectConnection. It
 * keeps the document loaded until `disconnect()`, and is the transaction
 * origin of its changes, which go through onChange and the store like any
 * client's.
 */
export interface DirectConnection extends Attachment {
  readonly source: 'direct'
  readonly document: CollabDocument
  readonly documentName: string
  /**
   * Runs `fn(document)` in one Yjs transaction whose origin is this connection.
   *
   * @returns a promise that resolves once every onChange hook for the change has resolved.
   * @rejects with FST_COLLAB_CLOSED after `disconnect()`, once `fastify.close()`
   *   began or after the document unloaded, with FST_COLLAB_STORE_BACKLOG while
   *   the unstored backlog passes `maxUnstoredBytes` (`fn` is then not called),
   *   with what `fn` threw, or with the first failing onChange hook's error.
   */
  transact: (fn: (document: Y.Doc) => void) => Promise<void>
  /**
   * Detaches. When it was the last connection, the document is stored and
   * unloaded; the promise resolves when that store (or unload) has ended.
   * Calling it again does nothing.
   */
  disconnect: () => Promise<void>
}

/** `fastify.collab`: the Yjs collaboration backend. */
export interface Collab {
  /**
   * Serves an upgraded socket: y-websocket or Hocuspocus, told apart by the
   * first frame (see the `protocol` option). Failures of the client close the
   * socket with a documented close code. It may be called after the handler
   * awaited something (a database lookup): the frames the client sent since the
   * 101 are held and handled first, in order; past `authQueueMaxBytes` or
   * `authQueueMaxFrames` the socket was closed with 4205 (docs/upgrades.md, "Early frames").
   * A paused socket is resumed.
   *
   * @param socket the `ws` WebSocket from `reply.upgrade()`
   * @param request the upgraded request, passed to every hook
   * @param documentName the document a y-websocket socket binds to (required
   *   for y-websocket); for Hocuspocus, the only name allowed on this socket
   * @param context the initial hook context, copied per document. Default `{}`.
   * @throws {FST_COLLAB_SOCKET_IN_USE} when the socket is already served.
   * @throws {FST_COLLAB_SOCKET_VALIDATES_MESSAGES} when the socket's route has `schema.message`.
   */
  handleConnection: (socket: WebSocket, request: FastifyRequest, documentName?: string, context?: HookContext) => void
  /**
   * Opens server-side access to a document, loading it if needed.
   *
   * @rejects with FST_COLLAB_CLOSED while `fastify.close()` runs, or with
   *   the onLoadDocument error.
   */
  openDirectConnection: (documentName: string, context?: HookContext) => Promise<DirectConnection>
  /** Loaded documents, including those still loading. */
  getDocumentsCount: () => number
  /** Socket sessions plus direct connections over every document. */
  getConnectionsCount: () => number
  /** Closes the sockets on one document, or on all, with 4205 (Reset Connection): clients reconnect. */
  closeConnections: (documentName?: string) => void
  /** The loaded documents by name. */
  readonly documents: ReadonlyMap<string, CollabDocument>
  /** The root Fastify logger, so extensions can log outside any request (hook payloads carry `instance`). */
  readonly log: FastifyBaseLogger
  /** This instance's id, unique per process start: with `scaleOut`, the name other instances know it by. */
  readonly instanceId: string
  /**
   * The instance that owns a document: with `scaleOut`, the live holder of its lease (maybe this one);
   * without, this instance when the document is loaded here. Resolves null when nobody holds it.
   * @rejects with node-redis's error when Redis cannot be reached.
   */
  ownerOf: (documentName: string) => Promise<string | null>
}
