import createError from '@fastify/error'

// Every error code of the package, defined once. The prefix is FST_COLLAB_.

// --- upgrade ---------------------------------------------------------------

/** A plugin option has the wrong type or value. Thrown at registration. */
export const FST_COLLAB_INVALID_OPTION = createError<[string, string]>(
  'FST_COLLAB_INVALID_OPTION', 'Invalid option "%s": %s', 500, TypeError)

/** `@fastify/websocket` is registered in the same app: it rewraps every route's handler, so both cannot work together. */
export const FST_COLLAB_WEBSOCKET_CONFLICT = createError(
  'FST_COLLAB_WEBSOCKET_CONFLICT',
  '@fastify/websocket cannot be registered beside fastify-collab: it rewraps every route handler. Remove it; see docs/migrate-from-fastify-websocket.md', 500)

/** `reply.upgrade()` was called on a request that did not ask for `Upgrade: websocket`. Answered with 426 and `Upgrade: websocket` (RFC 7230 §6.7). */
export const FST_COLLAB_NOT_UPGRADE_REQUEST = createError(
  'FST_COLLAB_NOT_UPGRADE_REQUEST', 'This route expects a WebSocket upgrade request', 426)

/** The upgrade request is not a valid RFC 6455 §4.2.1 opening handshake. Answered with 400. */
export const FST_COLLAB_BAD_HANDSHAKE = createError<[string]>(
  'FST_COLLAB_BAD_HANDSHAKE', 'Invalid WebSocket handshake: %s', 400)

/** The client asked for a WebSocket version other than 13 (or 8). Answered with 426 and `Sec-WebSocket-Version: 13` (RFC 6455 §4.4). */
export const FST_COLLAB_UNSUPPORTED_VERSION = createError(
  'FST_COLLAB_UNSUPPORTED_VERSION', 'Unsupported WebSocket version; this server speaks version 13', 426)

/** `reply.upgrade()` was called while `fastify.close()` is running. Answered with 503. */
export const FST_COLLAB_CLOSING = createError(
  'FST_COLLAB_CLOSING', 'The server is shutting down', 503)

/** `reply.upgrade()` was called twice, or after the reply was sent. */
export const FST_COLLAB_REPLY_ALREADY_SENT = createError(
  'FST_COLLAB_REPLY_ALREADY_SENT', 'reply.upgrade() called on a reply that was already sent or upgraded', 500)

/** The client went away before the WebSocket handshake completed: the `reply.upgrade()` promise rejects with it. */
export const FST_COLLAB_UPGRADE_ABORTED = createError(
  'FST_COLLAB_UPGRADE_ABORTED', 'The client closed the connection before the WebSocket handshake completed', 499)

/**
 * `addUpgradeHook` or a route's `onUpgrade` got something that is not a function. Thrown at once.
 * Modelled on Fastify's FST_ERR_HOOK_INVALID_HANDLER.
 */
export const FST_COLLAB_HOOK_INVALID_HANDLER = createError<[string, string]>(
  'FST_COLLAB_HOOK_INVALID_HANDLER', '%s hook should be a function, instead got %s', 500, TypeError)

/**
 * An async `onUpgrade` hook also takes `done`: it would advance the chain twice. Thrown at once.
 * Modelled on Fastify's FST_ERR_HOOK_INVALID_ASYNC_HANDLER.
 */
export const FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER = createError(
  'FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER',
  'Async function has too many arguments. Async hooks should not use the \'done\' argument.', 500, TypeError)

/**
 * `addUpgradeHook` was called once the app was ready: routes have their hooks by then.
 * Modelled on Fastify's FST_ERR_INSTANCE_ALREADY_LISTENING ("Cannot add hook!").
 */
export const FST_COLLAB_HOOK_AFTER_READY = createError(
  'FST_COLLAB_HOOK_AFTER_READY', 'Fastify instance is already ready. Cannot add an onUpgrade hook!', 500)

/** The upgrade request's `Origin` is not in `allowedOrigins` (cross-site WebSocket hijacking). Answered with 403 before the handshake. */
export const FST_COLLAB_ORIGIN_FORBIDDEN = createError<[string]>(
  'FST_COLLAB_ORIGIN_FORBIDDEN', 'WebSocket connections from origin "%s" are not allowed', 403)

/**
 * A message on a route with `schema.message` is not JSON (RFC 8259), or carries `__proto__`/`constructor.prototype`
 * keys Fastify's JSON parser refuses (`onProtoPoisoning`). `cause` is the parser's error. The socket closes with 1007
 * unless the route's `onInvalidMessage` handles it. A message that is JSON but fails the schema gets Fastify's FST_ERR_VALIDATION.
 */
export const FST_COLLAB_INVALID_MESSAGE_JSON = createError<[{ cause: unknown }]>(
  'FST_COLLAB_INVALID_MESSAGE_JSON', 'The message is not valid JSON', 400)

/**
 * A send left an upgraded socket's `bufferedAmount` above `maxBufferedAmount`: the client does not read fast enough.
 * Logged (warn) once per socket, never thrown; the socket closes with 1013 Try Again Later.
 */
export const FST_COLLAB_SEND_BUFFER_FULL = createError<[number, number]>(
  'FST_COLLAB_SEND_BUFFER_FULL', 'The socket holds %d bytes unsent, more than maxBufferedAmount (%d): closing with 1013', 503)

/**
 * The frames a client sent before the app read its socket (no `'message'` listener and no `handleConnection` yet: a
 * handler still awaiting something) passed `authQueueMaxBytes` or `authQueueMaxFrames` (the first argument names which).
 * Logged (warn) once per socket, never thrown; the held frames are dropped and the socket closes with 4205 Reset Connection.
 */
export const FST_COLLAB_EARLY_FRAMES_FULL = createError<[string, number]>(
  'FST_COLLAB_EARLY_FRAMES_FULL', 'More was sent before the app read the socket than %s (%d) allows: closing with 4205', 503)

// --- collab ----------------------------------------------------------------
// (Invalid collab options throw the shared FST_COLLAB_INVALID_OPTION above.)

/** A client frame could not be decoded, or is a type a client never sends. Logged; the connection closes with 4400. */
export const FST_COLLAB_BAD_FRAME = createError<[string]>(
  'FST_COLLAB_BAD_FRAME', 'Malformed or unexpected collab frame: %s', 400)

/** A document was refused before any hook ran (empty name, or a name other than the one the route bound). Sent as the PermissionDenied reason. */
export const FST_COLLAB_FORBIDDEN = createError<[string]>(
  'FST_COLLAB_FORBIDDEN', 'Permission denied: %s', 403)

/** `openDirectConnection()` or a new connection arrived after `fastify.close()` began, or a change was offered to a document that is closing or unloaded (`document.applyUpdate`, `transactAs`, `DirectConnection.transact`). */
export const FST_COLLAB_CLOSED = createError(
  'FST_COLLAB_CLOSED', 'The collab instance is closing', 503)

/** `document.applyUpdate()`/`transactAs()` was called while the document is still loading. Await `document.ready`, then apply. */
export const FST_COLLAB_LOADING = createError<[string]>(
  'FST_COLLAB_LOADING', 'Document "%s" is still loading; await document.ready before applying changes', 409)

/** `handleConnection()` was called for a socket it already serves. Thrown synchronously; the socket is left as it was. */
export const FST_COLLAB_SOCKET_IN_USE = createError(
  'FST_COLLAB_SOCKET_IN_USE', 'fastify.collab.handleConnection() was already called for this socket', 500)

/**
 * `handleConnection()` was called for a socket of a route with `schema.message`: its `'message'` events carry
 * validated JSON values, not the Yjs frames collab speaks. Thrown synchronously; serve collab on a route without it.
 */
export const FST_COLLAB_SOCKET_VALIDATES_MESSAGES = createError(
  'FST_COLLAB_SOCKET_VALIDATES_MESSAGES', 'fastify.collab.handleConnection() needs raw frames: this socket\'s route validates its messages with schema.message', 500)

/** A document name longer than `maxDocumentNameLength` bytes, refused before any hook ran. Sent as the PermissionDenied reason. */
export const FST_COLLAB_NAME_TOO_LONG = createError<[number]>(
  'FST_COLLAB_NAME_TOO_LONG', 'Permission denied: the document name is longer than %d bytes', 414)

/** A Hocuspocus socket asked for more documents (attached plus waiting) than `maxDocumentsPerSocket`. Sent as the PermissionDenied reason. */
export const FST_COLLAB_TOO_MANY_DOCUMENTS = createError<[number]>(
  'FST_COLLAB_TOO_MANY_DOCUMENTS', 'Permission denied: this socket already has %d documents', 429)

/** An awareness state longer than `maxAwarenessStateBytes` (its JSON, in bytes). The frame is refused; the socket closes with 4413. */
export const FST_COLLAB_AWARENESS_TOO_LARGE = createError<[number, number]>(
  'FST_COLLAB_AWARENESS_TOO_LARGE', 'An awareness state of %d bytes is larger than maxAwarenessStateBytes (%d)', 413)

/** One connection introduced more awareness client IDs than `maxAwarenessClientsPerConnection`. The frame is refused; the socket closes with 4429. */
export const FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS = createError<[number]>(
  'FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS', 'One connection may set the awareness of at most %d client IDs', 429)

/**
 * A Yjs update depends on structs the document lacks (a clock gap, an unknown origin or parent, or deletions of unknown
 * structs): Yjs would keep it pending forever. Refused before it is applied; a socket closes with 4205 and resyncs.
 */
export const FST_COLLAB_UPDATE_NOT_INTEGRABLE = createError<[string]>(
  'FST_COLLAB_UPDATE_NOT_INTEGRABLE', 'The update cannot be integrated into document "%s": it depends on structs the document lacks', 409)

/** New structs would grow a document past `maxDocumentBytes`. Refused before they are applied (deletions still pass). */
export const FST_COLLAB_DOCUMENT_TOO_LARGE = createError<[string, number]>(
  'FST_COLLAB_DOCUMENT_TOO_LARGE', 'Document "%s" would grow past maxDocumentBytes (%d)', 413)

/**
 * The bytes of applied updates whose onChange hooks have not resolved (the durable store's backlog, process-wide) passed
 * `maxUnstoredBytes`: new changes are refused before they are applied, until the store catches up.
 */
export const FST_COLLAB_STORE_BACKLOG = createError<[number]>(
  'FST_COLLAB_STORE_BACKLOG', 'The store is behind: more than maxUnstoredBytes (%d) of changes wait for onChange', 503)

// --- storage ---------------------------------------------------------------

/**
 * `fastify-collab/sqlite` found no SQLite driver: the runtime has no usable `node:sqlite` (none on Node 20;
 * one without `StatementSync#setReturnArrays` on early Node 22) and the optional peer dependency
 * `better-sqlite3` is not installed (or not built for this Node), or the driver named by the `driver`
 * option cannot be loaded. Thrown by `sqlite()`; `cause` is the
 * loader's error.
 */
export const FST_COLLAB_SQLITE_MISSING = createError<[{ cause: unknown }]>(
  'FST_COLLAB_SQLITE_MISSING', 'fastify-collab/sqlite needs node:sqlite (Node 24, recent Node 22) or the optional peer dependency better-sqlite3 (12 on Node 20, 13 on Node 22 and later): npm install better-sqlite3', 500)

/**
 * A better-sqlite3 that crashes on this Node, refused before it loads. Thrown by `sqlite()`:
 * - 12 on Node 24.19 or later, where it aborts the process whenever a garbage-collected statement is
 *   finalised (its node::ObjectWrap destructor finds no Environment);
 * - 13 on Node 20, whose Node-API build crashes the process as it loads.
 */
export const FST_COLLAB_SQLITE_UNSUPPORTED = createError<[string, string]>(
  'FST_COLLAB_SQLITE_UNSUPPORTED', 'better-sqlite3 %s crashes on Node %s: use better-sqlite3 12 on Node 20, 13 on Node 22 and later (or node:sqlite there)', 500)

/** The SQLite file could not be opened or its schema created. Thrown by `sqlite()`; `cause` is the SqliteError. */
export const FST_COLLAB_STORAGE_OPEN = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_STORAGE_OPEN', 'Could not open the store at "%s"', 500)

/**
 * A group commit failed (busy, locked, read-only or full database). Logged, never thrown: the updates stay in memory,
 * their acknowledgements wait, and the write is retried after `delay` ms. `cause` is the storage's own error.
 */
export const FST_COLLAB_STORAGE_APPEND = createError<[number, number, { cause: unknown }]>(
  'FST_COLLAB_STORAGE_APPEND', 'Could not append %d update(s) to the update log; retrying in %d ms', 503)

/** The last write at shutdown failed: the updates it held are lost. Logged by `close`; pending `onChange` promises reject with it. */
export const FST_COLLAB_STORAGE_LOST = createError<[number, { cause: unknown }]>(
  'FST_COLLAB_STORAGE_LOST', 'The store closed with %d update(s) that could not be written', 500)

/** Reading a document's snapshot and update log failed. `onLoadDocument` rejects with it; `cause` is the storage's error. */
export const FST_COLLAB_STORAGE_LOAD = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_STORAGE_LOAD', 'Could not load document "%s" from the store', 503)

/** Writing a compacted snapshot failed. `onStoreDocument` rejects with it (the core retries); a size-triggered compaction logs it. */
export const FST_COLLAB_STORAGE_COMPACT = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_STORAGE_COMPACT', 'Could not compact document "%s"', 503)

/** `onChange` or `onStoreDocument` ran for a document whose `onLoadDocument` did not go through the storage extension. */
export const FST_COLLAB_STORAGE_NOT_LOADED = createError<[string]>(
  'FST_COLLAB_STORAGE_NOT_LOADED', 'Document "%s" was not loaded through the storage extension', 500)

/** A store call came after the store was closed: `onChange` and `onLoadDocument` reject with it (the latter as the `cause` of FST_COLLAB_STORAGE_LOAD). */
export const FST_COLLAB_STORAGE_CLOSED = createError(
  'FST_COLLAB_STORAGE_CLOSED', 'The store is closed', 503)

/**
 * A fencing token was refused (Kleppmann, "How to do distributed locking", 2016): `append` or `compact`
 * carried an epoch lower than the one recorded for its document, so a newer owner has claimed it. Nothing
 * was written. Made by `fencedError()`, with `documents` (the fenced documents), `epochs` (the epoch
 * recorded for each, same order) and `epoch` (the highest of them). `onChange` rejects with it, never
 * retried: a fenced writer must not acknowledge again, and its document steps down (its clients reconnect
 * and resync with the new owner).
 */
export const FST_COLLAB_STORAGE_FENCED = createError<[string, number]>(
  'FST_COLLAB_STORAGE_FENCED', 'A newer owner claimed %s (recorded epoch %d): this writer is fenced off and must step down', 409)

/**
 * An `append` held an entry whose `(documentName, seq)` the store already holds with different bytes: two
 * writers used the same sequence numbers (two processes on one store without `scaleOut`, or a store whose
 * `claim` does not fence). Nothing was written, and nothing is ignored in silence: `onChange` rejects with
 * it, never retried, and the document steps down like a fenced one (its clients reconnect and resync from
 * the store). Made by `conflictError()`, with `documents` and `seqs` (the lowest colliding seq of each).
 */
export const FST_COLLAB_STORAGE_CONFLICT = createError<[string]>(
  'FST_COLLAB_STORAGE_CONFLICT', 'The update log of %s already holds different bytes under a sequence number this writer used: another writer shares the log', 409)

/**
 * A store's `claim()` did not return a fencing epoch: a whole number >= 1, higher than the epoch of this
 * instance's previous claim of the document. The load fails (FST_COLLAB_STORAGE_LOAD with this as `cause`)
 * rather than write under a token that fences nothing. A store written for the earlier contract
 * (`claim(documentName, epoch)`, returning nothing) gets this: its claim must now issue the epoch itself.
 */
export const FST_COLLAB_STORAGE_CLAIM = createError<[string, string]>(
  'FST_COLLAB_STORAGE_CLAIM', 'The store\'s claim() of document "%s" returned %s: expected a new fencing epoch, a whole number greater than every earlier one', 500)

/**
 * `onLoadDocument` was given an `epoch` that no claim can have issued (not a whole number >= 1): the load
 * fails rather than write under it. The collab core passes the epoch `claim()` returned; an app that calls
 * the storage extension's hooks itself must do the same.
 */
export const FST_COLLAB_STORAGE_EPOCH = createError<[string, string]>(
  'FST_COLLAB_STORAGE_EPOCH', 'Document "%s" was loaded with epoch %s: a fencing epoch is a whole number >= 1 that claim() issued', 500)

/**
 * `onLoadDocument` was given an `epoch` (scale-out is on) but the store does not implement `claim()`, so
 * it could not refuse a stale owner's writes. Thrown instead of ignoring the epoch.
 */
export const FST_COLLAB_STORAGE_UNFENCED = createError<[string]>(
  'FST_COLLAB_STORAGE_UNFENCED', 'Document "%s" was loaded with an epoch, but the store has no claim(): it cannot fence writes. Use a store that implements claim (sqlite, postgres)', 500)

/** `fastify-collab/postgres` was used with `connectionString` but the optional peer dependency `pg` is not installed. Thrown by `postgres()`. */
export const FST_COLLAB_POSTGRES_MISSING = createError<[{ cause: unknown }]>(
  'FST_COLLAB_POSTGRES_MISSING', 'fastify-collab/postgres needs the optional peer dependency pg (node-postgres 8): npm install pg', 500)

/**
 * The store's PostgreSQL session runs with `synchronous_commit = off`: a commit would be acknowledged before
 * it is durable. Thrown by the first call of the PostgreSQL store (so `onLoadDocument` rejects with
 * FST_COLLAB_STORAGE_LOAD and this as `cause`). Set it back to `on`, the server's default.
 */
export const FST_COLLAB_POSTGRES_ASYNC_COMMIT = createError(
  'FST_COLLAB_POSTGRES_ASYNC_COMMIT', 'synchronous_commit is "off" for the store\'s connection: acknowledged updates could be lost. Set synchronous_commit to "on" for this role or database', 500)

// --- scale-out -------------------------------------------------------------

/**
 * `scaleOut` is set but not exactly one extension stores documents with fencing (a `storageExtension` whose
 * storage implements `claim`, such as `fastify-collab/sqlite` or `fastify-collab/postgres`). Without a fence,
 * two owners of one document (a paused one waking up) could both write; with two, each store would issue
 * epochs of its own. Thrown at registration, with the number of fencing extensions found.
 */
export const FST_COLLAB_SCALE_OUT_UNFENCED = createError<[number]>(
  'FST_COLLAB_SCALE_OUT_UNFENCED',
  'scaleOut needs exactly one store with fencing (found %d): one storage extension whose storage implements claim() (fastify-collab/sqlite, fastify-collab/postgres)', 500)

/**
 * A document could not be placed: Redis or the store could not be reached to claim it, or its owner did not
 * answer. The connection is refused with 4205 (Hocuspocus) or 1011 (y-websocket) and the client retries.
 * `cause` is the underlying error.
 */
export const FST_COLLAB_SCALE_OUT_UNAVAILABLE = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_SCALE_OUT_UNAVAILABLE', 'Document "%s" cannot be served now: its owner could not be reached or claimed', 503)

/**
 * With `scaleOut`, the hook context of a connection crosses instances, so it must survive
 * `v8.serialize` (plain data, Date, Map, Set, typed arrays; no functions, no symbols). The connection
 * is refused at connect (PermissionDenied, or 4403 for y-websocket). `cause` is the serialiser's error.
 */
export const FST_COLLAB_CONTEXT_NOT_SERIALIZABLE = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_CONTEXT_NOT_SERIALIZABLE', 'The context of a connection to "%s" cannot cross instances: it must survive v8.serialize', 500)

/**
 * With `scaleOut`, the owner of a document refused a change that a direct connection on another instance
 * sent it (a SyncStatus 0, which carries no reason: its store is behind `maxUnstoredBytes`, the document
 * would pass `maxDocumentBytes`, the owner is closing, or an onChange hook failed; the owner's log says
 * which). `DirectConnection.transact` rejects with it. The change stays in the connection's replica and goes
 * to the owner again with the next resync, as a Hocuspocus provider keeps a refused change.
 */
export const FST_COLLAB_DIRECT_REFUSED = createError<[string]>(
  'FST_COLLAB_DIRECT_REFUSED', 'The owner of document "%s" refused the change (SyncStatus 0)', 503)

/**
 * With `scaleOut`, an operation an instance asked the owner of a document to run for it (`versions.create`
 * or `.restore` on an instance that does not own the document) failed there with an error that is not one of
 * this package's (an app hook's, a database driver's); its message is the owner's. An error of this package
 * is rejected with as it is, rebuilt here with its code and fields.
 */
export const FST_COLLAB_OWNER_FAILED = createError<[string, string]>(
  'FST_COLLAB_OWNER_FAILED', 'The owner of document "%s" failed: %s', 500)

// --- metrics ---------------------------------------------------------------

/**
 * The `metrics` option was given but the optional peer dependency `prom-client` (15) cannot be loaded.
 * Registration rejects with it; `cause` is the loader's error.
 */
export const FST_COLLAB_METRICS_MISSING = createError<[{ cause: unknown }]>(
  'FST_COLLAB_METRICS_MISSING', 'The metrics option needs the optional peer dependency prom-client (15): npm install prom-client', 500)

/**
 * The registry of the `metrics` option already holds a metric of this name that fastify-collab did not
 * register (an app's own, or another copy of the package). Registration rejects with it, and registers
 * nothing; `cause` is prom-client's error.
 */
export const FST_COLLAB_METRICS_CONFLICT = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_METRICS_CONFLICT', 'The metrics registry already holds a metric named "%s" that fastify-collab did not register', 500)

// --- import ----------------------------------------------------------------

/**
 * `importHocuspocus()` could not read its `from` file: missing, not a SQLite database, no `documents (name, data)`
 * table as `@hocuspocus/extension-sqlite` writes it, or a read failed. `cause` says which. Nothing more is written.
 */
export const FST_COLLAB_IMPORT_SOURCE = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_IMPORT_SOURCE', 'Could not read Hocuspocus documents from "%s"', 500)

/** An entry given to `importDocuments()` is not `{ name: non-empty string, state: Uint8Array }`. The import stops there. */
export const FST_COLLAB_IMPORT_INVALID_DOCUMENT = createError<[string]>(
  'FST_COLLAB_IMPORT_INVALID_DOCUMENT', 'Cannot import this document: %s', 500, TypeError)

/** A document's state is not a Yjs update (applying it to an empty Y.Doc threw; `cause` is Yjs's error). The import stops before writing it. */
export const FST_COLLAB_IMPORT_INVALID_STATE = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_IMPORT_INVALID_STATE', 'The state of document "%s" is not a Yjs update', 500)

/**
 * The target store already holds the document with another state (or with updates after it): importing would
 * replace them. The import stops before writing it; pass `force` (`--force`) to overwrite.
 */
export const FST_COLLAB_IMPORT_EXISTS = createError<[string]>(
  'FST_COLLAB_IMPORT_EXISTS', 'Document "%s" already exists in the target store with other content: pass force to overwrite it', 409)

// --- history ---------------------------------------------------------------

/**
 * Document history was asked of a store that does not keep versions: its `CollabStorage` lacks the optional
 * `putVersion`, `listVersions`, `getVersion` and `deleteVersions` (the argument names those missing). Thrown by
 * `createVersions()` (so at registration with the plugin's `history` option); nothing else of the store changes.
 */
export const FST_COLLAB_HISTORY_UNSUPPORTED = createError<[string]>(
  'FST_COLLAB_HISTORY_UNSUPPORTED', 'This store keeps no versions (it lacks %s): document history needs a store with putVersion, listVersions, getVersion and deleteVersions (fastify-collab/sqlite, fastify-collab/postgres)', 500)

/**
 * The plugin's `history` option gives no `storage`, and not exactly one storage extension among `extensions`
 * has a store to keep the versions in (the argument: how many do). Thrown at registration; give
 * `history.storage`.
 */
export const FST_COLLAB_HISTORY_NO_STORE = createError<[number]>(
  'FST_COLLAB_HISTORY_NO_STORE', 'The history option gives no storage, and %d storage extensions could keep the versions: give history.storage', 500)

/** `versions.get()`, `.diff()` or `.restore()` named a version the document does not have (never made, thinned, or not a whole number >= 1). */
export const FST_COLLAB_HISTORY_NOT_FOUND = createError<[string, string]>(
  'FST_COLLAB_HISTORY_NOT_FOUND', 'Document "%s" has no version %s', 404)

/**
 * `versions.create()` or `.restore()` opened a document whose load the history extension did not see: its
 * `extension` is not among the plugin's `extensions` (or it was created by another `createVersions()` call).
 */
export const FST_COLLAB_HISTORY_NOT_REGISTERED = createError<[string]>(
  'FST_COLLAB_HISTORY_NOT_REGISTERED', 'Document "%s" was loaded without the history extension: add createVersions().extension to the plugin\'s extensions', 500)

/**
 * Storing an automatic version (`'interval'` or `'disconnect'`) failed. Logged, never thrown: the changes stay
 * marked and the next trigger (the next interval, the next last disconnect) tries again; a fenced one
 * (`cause` FST_COLLAB_STORAGE_FENCED) is not retried, since this load no longer owns the document. `cause`
 * is the store's error. `versions.create()` and `.restore()` reject with the store's error itself.
 */
export const FST_COLLAB_HISTORY_WRITE = createError<[string, { cause: unknown }]>(
  'FST_COLLAB_HISTORY_WRITE', 'Could not store a version of document "%s"', 503)
