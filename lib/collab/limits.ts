import { FST_COLLAB_INVALID_OPTION } from '../errors.js'
import type { CollabLimitName } from '../names.js'

// Every bound of the collab backend in one place: per socket (Connection),
// per session (Session), per document (CollabDocument) and per process. Each
// has a plugin option (flat, beside the others), a default, a documented
// refusal and a warn line the first time a socket meets it.

/** The bounds, given flat among the plugin options (their names: `CollabLimitName`). */
export interface LimitOptions extends Partial<Record<CollabLimitName, number>> {
  /**
   * Bytes a socket may send before its authentication ends, per socket; answers it got before
   * authentication (Pong, PermissionDenied) count too. A session's updates that wait for its
   * SyncStep2 (docs/collab.md, "Updates that cannot integrate") have a budget of the same size.
   * Past it: close 4205 (Reset Connection). Default 5 MiB (5242880), as Hocuspocus 4.7.
   * Also bounds the payload bytes every upgraded socket holds before the app reads it (early frames,
   * lib/upgrade/early-frames.ts): past it, close 4205 (FST_COLLAB_EARLY_FRAMES_FULL).
   */
  authQueueMaxBytes?: number
  /**
   * Frames, counted like `authQueueMaxBytes`. Past it: close 4205. Default 1000, as Hocuspocus 4.7.
   * Also bounds the frames every upgraded socket holds before the app reads it.
   */
  authQueueMaxFrames?: number
  /** Documents a Hocuspocus socket may have waiting for authentication at once. Past it: close 4205. Default 100, as Hocuspocus 4.7. */
  authQueueMaxDocuments?: number
  /**
   * Time in ms a Hocuspocus socket may hold frames for a document without sending its Auth
   * (the provider sends it first, at once). Past it: close 4408, Connection Timeout, as
   * Hocuspocus does. `0` disables. Default 60000.
   */
  authTimeout?: number
  /**
   * Documents one Hocuspocus socket may have, attached plus waiting for authentication. A frame for
   * one more gets PermissionDenied (FST_COLLAB_TOO_MANY_DOCUMENTS); the socket stays open. Default 100.
   */
  maxDocumentsPerSocket?: number
  /**
   * Longest document name, in UTF-8 bytes. A longer one is refused before any hook runs:
   * PermissionDenied (FST_COLLAB_NAME_TOO_LONG); a y-websocket socket then closes with 4403. Default 256.
   */
  maxDocumentNameLength?: number
  /**
   * Refused authentications a socket may get (each refused Auth frame of a Hocuspocus socket: a hook's refusal,
   * a name too long, too many documents, another document than the route's). The one that reaches it closes the
   * socket with 4429 (Too Many). Default 10.
   */
  maxAuthFailures?: number
  /**
   * Largest awareness state of one client, in bytes of its JSON. A frame carrying a larger one is refused
   * whole (FST_COLLAB_AWARENESS_TOO_LARGE) and its socket closes with 4413. Default 16384 (16 KiB, about 50
   * times a cursor-and-name state; 512 of them still fit in one 8 MiB frame to a new client).
   */
  maxAwarenessStateBytes?: number
  /**
   * Awareness states one document holds. Past it a new client's state is not applied (the others do
   * not see that client); the sender stays connected and can edit: closing it would lock every later
   * user out, since each provider sends its awareness when it opens. Default 512.
   */
  maxAwarenessStates?: number
  /**
   * Awareness client IDs one connection may own at once (a provider owns one; a reconnect takes its
   * own back). A frame that would take it past this is refused whole (FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS)
   * and its socket closes with 4429. Default 4.
   */
  maxAwarenessClientsPerConnection?: number
  /**
   * Largest document, in bytes of its Yjs update encoding. A change that adds structs past it is refused before it is
   * applied (FST_COLLAB_DOCUMENT_TOO_LARGE): a Hocuspocus client gets SyncStatus 0 (it keeps the change), a y-websocket
   * client is closed with 4413. Deletions still pass. The size is tracked as the sum of the updates applied since the
   * load (the load's included), and measured exactly (`Y.encodeStateAsUpdate`) only when that sum would pass the bound, at most once a second.
   * Default 10485760 (10 MiB, the default `ws.maxPayload`: a document's first sync is one frame).
   */
  maxDocumentBytes?: number
  /**
   * Bytes of applied updates whose onChange hooks have not resolved yet, over the whole process: the durable store's
   * backlog while it is down. Past it new changes are refused before they are applied (FST_COLLAB_STORE_BACKLOG): a
   * Hocuspocus client gets SyncStatus 0 (it keeps the change and is asked for it again once the backlog is back under the
   * bound), a y-websocket client is closed with 1013 (it resyncs when it reconnects), `DirectConnection.transact()`
   * rejects. The change that crosses it is still accepted. Default 67108864 (64 MiB).
   */
  maxUnstoredBytes?: number
}

/**
 * The bounds after defaults.
 * @internal
 */
export type Limits = Required<LimitOptions>

/**
 * The defaults, as documented on each option.
 * @internal
 */
export const LIMIT_DEFAULTS: Readonly<Limits> = {
  authQueueMaxBytes: 5 * 1024 * 1024,
  authQueueMaxFrames: 1000,
  authQueueMaxDocuments: 100,
  authTimeout: 60_000,
  maxDocumentsPerSocket: 100,
  maxDocumentNameLength: 256,
  maxAuthFailures: 10,
  maxAwarenessStateBytes: 16 * 1024,
  maxAwarenessStates: 512,
  maxAwarenessClientsPerConnection: 4,
  maxDocumentBytes: 10 * 1024 * 1024,
  maxUnstoredBytes: 64 * 1024 * 1024
}

/**
 * Deepest nesting of arrays and objects in an awareness state. Not an option: it is part of what a valid state is.
 * V8's JSON.stringify recurses, so a state parsed from 100,000 nested `[` would overflow the stack when the turn's
 * awareness frame is encoded, and reset every client of the document; it is refused on arrival instead (4400).
 * @internal
 */
export const MAX_AWARENESS_DEPTH = 64

/**
 * Reads a non-negative finite number option.
 * @throws {FST_COLLAB_INVALID_OPTION} when it is not one.
 * @internal
 */
export function count (options: Record<string, unknown>, key: string, fallback: number): number {
  const value = options[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new FST_COLLAB_INVALID_OPTION(key, 'expected a finite number >= 0')
  }
  return value
}

/**
 * Validates the bounds among the flat plugin options and applies the defaults.
 * @throws {FST_COLLAB_INVALID_OPTION} when a bound is not a finite number >= 0.
 * @internal
 */
export function resolveLimits (options: Record<string, unknown>): Limits {
  const limits = { ...LIMIT_DEFAULTS }
  for (const key of Object.keys(LIMIT_DEFAULTS) as Array<keyof Limits>) limits[key] = count(options, key, LIMIT_DEFAULTS[key])
  return limits
}
