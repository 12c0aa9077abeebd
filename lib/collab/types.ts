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
 *
 * A direct connection opened on an instance that does not own the document reaches the owner as such a
 * session too, with `direct: true`: it has no HTTP request, so `id` is the connection's own (`direct-…`),
 * `method`, `url`, `hostname` and `ip` are `''`, and `headers`, `query` and `params` are `{}`.
 */
export interface RemoteRequest {
  /** Always true: tells a snapshot from a live `FastifyRequest`. */
  readonly remote: true
  /** Whether the session is a direct connection's (`openDirectConnection` on `instanceId`), not a client's socket. */
  readonly direct: boolean
  /** The instance the client's socket (or the direct connection) is on (its `fastify.collab.instanceId`). */
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
 * keeps the document loaded until `disconnect()`, and its changes go through
 * onChange and the store like any client's.
 *
 * Where the document is served here (one instance, or the owner with
 * `scaleOut`), the connection is attached to the loaded document itself and
 * is the transaction origin of its changes.
 *
 * With `scaleOut`, on an instance that does not own the document, it is a
 * client of the owner, as a Hocuspocus provider is: the owner serves it as a
 * proxied session (its hooks see the connection's `context`, and a
 * {@link RemoteRequest} with `direct: true`), and `document` is a replica
 * that the owner keeps in sync. When the owner dies or hands the document
 * over, the connection follows it to its next owner and repairs what either
 * side missed with its own SyncStep1/SyncStep2 exchange.
 */
export interface DirectConnection extends Attachment {
  readonly source: 'direct'
  /**
   * The document: the loaded {@link CollabDocument} where it is served here; on an instance that does not
   * own it (scale-out), a replica that holds, once `openDirectConnection` resolved, at least every change
   * the owner had acknowledged before the call, and then every change the owner applies, as it
   * broadcasts them.
   */
  readonly document: Y.Doc
  readonly documentName: string
  /**
   * Runs `fn(document)` in one Yjs transaction whose origin is this connection.
   *
   * @returns a promise that resolves once every onChange hook for the change has resolved: with a durable
   *   store, once it is stored. On an instance that does not own the document, once the owner acknowledged
   *   the change (its SyncStatus 1, sent after the store's fenced append). A change in flight when the
   *   owner is lost is carried to the next owner by the connection's resync, and the promise resolves once
   *   that owner acknowledged it.
   * @rejects with FST_COLLAB_CLOSED after `disconnect()`, once `fastify.close()`
   *   began or after the document unloaded, with FST_COLLAB_STORE_BACKLOG while
   *   the unstored backlog passes `maxUnstoredBytes` (`fn` is then not called),
   *   with what `fn` threw, or with the first failing onChange hook's error.
   *   On an instance that does not own the document: with FST_COLLAB_DIRECT_REFUSED when the owner
   *   refused the change (its SyncStatus 0; the change stays in `document` and goes to the owner again
   *   with the next resync, as a provider keeps it); when the connection could not follow the document to
   *   a new owner (8 attempts in a row, over about 7 s), with its last attempt's error
   *   (FST_COLLAB_SCALE_OUT_UNAVAILABLE, the load's error); with FST_COLLAB_FORBIDDEN when the owner ended
   *   its session (its beforeHandleMessage refused a frame, or a hook closed the session). The connection is
   *   closed after these last two. In none of these cases can the caller tell whether the change will be
   *   stored: it was never acknowledged.
   */
  transact: (fn: (document: Y.Doc) => void) => Promise<void>
  /**
   * Detaches. When it was the last connection, the document is stored and unloaded; where it is served
   * here, the promise resolves when that store (or unload) has ended. On an instance that does not own the
   * document, it first waits for every change made so far to be acknowledged or rejected, then ends its
   * session on the owner. Calling it again does nothing.
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
   * Opens server-side access to a document (see {@link DirectConnection}), loading it if needed. With
   * `scaleOut`, it works on every instance: on the owner (or where nobody owns the document yet: this
   * instance claims it) the document is loaded here; elsewhere the connection is a session on the owner,
   * and the promise resolves once the owner's SyncStep2 is in its replica.
   *
   * @rejects with FST_COLLAB_CLOSED while `fastify.close()` runs, or with
   *   the onLoadDocument error. With `scaleOut`: FST_COLLAB_CONTEXT_NOT_SERIALIZABLE when the owner is
   *   another instance and `context` cannot cross (it must survive `v8.serialize`);
   *   FST_COLLAB_SCALE_OUT_UNAVAILABLE when the document cannot be placed or its owner reached now.
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
