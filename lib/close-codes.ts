// Every WebSocket close code the package sends, defined once, with its source,
// and which refusal closes a socket with which code (by error class).
// RFC 6455 §7.4.1 defines 1000–1015; §7.4.2 leaves 4000–4999 to applications,
// where the 44xx codes follow Hocuspocus (@hocuspocus/common `CloseEvents`).
// y-websocket stops reconnecting on 4400–4499 and retries on anything else.

import {
  FST_COLLAB_AWARENESS_TOO_LARGE, FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS, FST_COLLAB_DOCUMENT_TOO_LARGE,
  FST_COLLAB_SCALE_OUT_UNAVAILABLE, FST_COLLAB_STORAGE_LOAD, FST_COLLAB_STORE_BACKLOG, FST_COLLAB_UPDATE_NOT_INTEGRABLE
} from './errors.js'

/** The close codes fastify-collab sends, by name. */
export const CloseCode = {
  /** RFC 6455 §7.4.1: Normal Closure. A y-websocket session ended by the server (`session.close()`). */
  NORMAL: 1000,
  /** RFC 6455 §7.4.1: Going Away, "a server going down". Sent by `fastify.close()` to every upgraded socket that is not a collab socket. */
  GOING_AWAY: 1001,
  /** RFC 6455 §7.4.1: Unsupported Data. A text frame on a collab socket: only binary frames are spoken. */
  UNSUPPORTED_DATA: 1003,
  /**
   * RFC 6455 §7.4.1: Invalid frame payload data ("data within a message that was not consistent with the type of the
   * message"). A message on a route with `schema.message` that is not JSON or fails the schema.
   */
  INVALID_PAYLOAD: 1007,
  /**
   * Service Restart (IANA WebSocket Close Code Number Registry; not in RFC 6455 itself): `fastify.close()` on a
   * collab socket. The server stored every document and gave their leases back before it closed the socket,
   * so the client reconnects at once and finds its document served elsewhere (a rolling restart), or here
   * again once the server is back.
   */
  SERVICE_RESTART: 1012,
  /** RFC 6455 §7.4.1: Internal Error. A route handler failed after `reply.upgrade()`, or a y-websocket document could not be loaded (the client retries). */
  INTERNAL_ERROR: 1011,
  /**
   * Try Again Later (IANA WebSocket Close Code Number Registry; not in RFC 6455 itself), "a temporary condition":
   * - a send left the socket's `bufferedAmount` above `maxBufferedAmount` (the client does not read what it is sent);
   * - collab: a y-websocket client's change was refused because the durable store's backlog passed
   *   `maxUnstoredBytes`; the client keeps it and resyncs when it reconnects.
   */
  TRY_AGAIN_LATER: 1013,
  /**
   * Hocuspocus's Reset Connection (after HTTP 205 Reset Content): an auth queue bound was passed (also by the frames an
   * upgraded socket holds before the app reads it), `closeConnections()`,
   * or the client sent a Yjs update that cannot be integrated (it depends on structs the server lacks). Clients reconnect and resync.
   */
  RESET_CONNECTION: 4205,
  /** A malformed or unknown frame, or a y-websocket socket without a document name. */
  BAD_FRAME: 4400,
  /** Hocuspocus's Forbidden: a y-websocket client was refused by onConnect/onAuthenticate, or beforeHandleMessage threw. */
  FORBIDDEN: 4403,
  /** Hocuspocus's Connection Timeout: a document's frames came, but no Auth for it within `authTimeout`. */
  CONNECTION_TIMEOUT: 4408,
  /**
   * Too Large (after HTTP 413): an awareness state past `maxAwarenessStateBytes`, or a y-websocket change that would grow
   * its document past `maxDocumentBytes`. In y-websocket's permanent range (4400–4499): it does not reconnect.
   */
  TOO_LARGE: 4413,
  /** Too Many (after HTTP 429): one connection introduced more awareness client IDs than `maxAwarenessClientsPerConnection`, or a socket reached `maxAuthFailures` refusals. */
  TOO_MANY: 4429
} as const

/** A close code fastify-collab sends. */
export type CloseCodeValue = typeof CloseCode[keyof typeof CloseCode]

/**
 * How a refusal closes a socket: the code, and the reason sent with it.
 * @internal
 */
export interface RefusalClose {
  readonly code: CloseCodeValue
  readonly reason: string
}

type ErrorClass = abstract new (...args: never[]) => Error

// The refusals of the collab core that close the socket that caused them, by error class. Where a
// protocol can answer without closing (Hocuspocus's SyncStatus 0 for a change past a store or size
// bound), the session does so first; what closes comes from here.
const REFUSALS: ReadonlyArray<readonly [ErrorClass, RefusalClose]> = [
  [FST_COLLAB_AWARENESS_TOO_LARGE, { code: CloseCode.TOO_LARGE, reason: 'Too Large: awareness state' }],
  [FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS, { code: CloseCode.TOO_MANY, reason: 'Too Many: awareness client IDs' }],
  [FST_COLLAB_UPDATE_NOT_INTEGRABLE, { code: CloseCode.RESET_CONNECTION, reason: 'Reset Connection: update cannot be integrated' }],
  // y-websocket has no acknowledgement: closing is how its client learns; it keeps the change.
  [FST_COLLAB_STORE_BACKLOG, { code: CloseCode.TRY_AGAIN_LATER, reason: 'Try Again Later: the store is behind' }],
  [FST_COLLAB_DOCUMENT_TOO_LARGE, { code: CloseCode.TOO_LARGE, reason: 'Too Large: document' }],
  // The document cannot be served now (its store, its owner); the client retries.
  [FST_COLLAB_SCALE_OUT_UNAVAILABLE, { code: CloseCode.RESET_CONNECTION, reason: 'Reset Connection: the document cannot be served now' }],
  [FST_COLLAB_STORAGE_LOAD, { code: CloseCode.RESET_CONNECTION, reason: 'Reset Connection: the document cannot be served now' }]
]

const BAD_FRAME: RefusalClose = { code: CloseCode.BAD_FRAME, reason: 'Bad frame' }

/**
 * How `error` closes the socket it came from: its entry in the table above, or 4400 Bad frame for anything else.
 * @internal
 */
export function refusalClose (error: unknown): RefusalClose {
  for (const [type, close] of REFUSALS) if (error instanceof type) return close
  return BAD_FRAME
}

/**
 * Whether `error` means the document cannot be served now but may be soon (its store, its owner): the client retries.
 * @internal
 */
export function isUnavailable (error: unknown): boolean {
  return error instanceof FST_COLLAB_SCALE_OUT_UNAVAILABLE || error instanceof FST_COLLAB_STORAGE_LOAD
}

/** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code. */
const MAX_CLOSE_REASON = 123

/**
 * `text` cut to at most 123 bytes of UTF-8, on a character boundary: `ws` throws a RangeError for a
 * longer close reason (RFC 6455 §5.5).
 * @internal
 */
export function closeReason (text: string): string {
  const bytes = Buffer.from(text)
  if (bytes.length <= MAX_CLOSE_REASON) return text
  let end = MAX_CLOSE_REASON
  // Step back over UTF-8 continuation bytes (10xxxxxx) to a character's first byte.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString()
}

/**
 * What a refusal tells the client (Hocuspocus PermissionDenied, y-protocols auth.js PermissionDenied): only
 * what the app meant for it. That is an error's `reason` (a string, as Hocuspocus hooks refuse with
 * `{ reason }`), or the message of an error with a 4xx `statusCode` (as Fastify sends the message of a 4xx
 * reply error); anything else, a database failure or a stack of names, stays in the server log and the
 * client reads `permission-denied`, Hocuspocus's own word.
 * @internal
 */
export function clientReason (error: unknown): string {
  if (error === null || typeof error !== 'object') return 'permission-denied'
  const { reason, statusCode, message } = error as { reason?: unknown, statusCode?: unknown, message?: unknown }
  if (typeof reason === 'string' && reason !== '') return reason
  const meantForClient = typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500
  return meantForClient && typeof message === 'string' && message !== '' ? message : 'permission-denied'
}
