import { FST_COLLAB_INVALID_OPTION } from '../errors.js'
import { HOOK_NAMES } from '../names.js'
import type { Extension, Hooks } from './hooks.js'
import { count, type LimitOptions, type Limits, resolveLimits } from './limits.js'

/** Which wire format a connection speaks. */
export type CollabProtocol = 'auto' | 'y-websocket' | 'hocuspocus'

/**
 * The collab options, given flat among the plugin options. Every hook of
 * {@link Hooks} may also be given here; these run after every extension.
 * The bounds ({@link LimitOptions}) are in limits.ts.
 */
export interface CollabOptions extends Hooks, LimitOptions {
  /**
   * How to tell the wire formats apart. `'auto'` (default) reads the first
   * frame: `00 00` (a y-websocket SyncStep1) means y-websocket, anything else
   * Hocuspocus (a provider opens with `varString(documentName)`, whose length
   * byte is never 0 for a valid name). Force one for clients that break the rule.
   */
  protocol?: CollabProtocol
  /** Quiet time in ms after the last change before onStoreDocument runs. Default 2000. */
  debounce?: number
  /** Longest time in ms a changed document waits for onStoreDocument under constant edits. Default 10000. */
  maxDebounce?: number
  /** First retry delay in ms after a failed store; doubles per failure, capped at 30000. Default 1000. */
  storeRetryDelay?: number
  /** Hook groups, run in `priority` order (default 100, higher first), before the top-level hooks. Default `[]`. */
  extensions?: Extension[]
}

/**
 * Options after defaults, as the collab core uses them.
 * @internal
 */
export interface ResolvedCollabOptions {
  protocol: CollabProtocol
  debounce: number
  maxDebounce: number
  storeRetryDelay: number
  limits: Limits
  extensions: Extension[]
  hooks: Hooks
}

const PROTOCOLS: readonly CollabProtocol[] = ['auto', 'y-websocket', 'hocuspocus']

/**
 * Validates the collab options and applies the defaults.
 *
 * @param options the whole flat plugin options object; keys that are not
 *   collab options are ignored.
 * @throws {FST_COLLAB_INVALID_OPTION} when an option has the wrong type or range.
 * @internal
 */
export function resolveCollabOptions (options: CollabOptions = {}): ResolvedCollabOptions {
  const raw = options as Record<string, unknown>
  const protocol = options.protocol ?? 'auto'
  if (!PROTOCOLS.includes(protocol)) throw new FST_COLLAB_INVALID_OPTION('protocol', "expected 'auto', 'y-websocket' or 'hocuspocus'")
  const extensions = options.extensions ?? []
  if (!Array.isArray(extensions) || extensions.some(e => e === null || typeof e !== 'object')) {
    throw new FST_COLLAB_INVALID_OPTION('extensions', 'expected an array of objects')
  }
  const hooks: Hooks = {}
  for (const name of HOOK_NAMES) {
    const hook = options[name]
    if (hook === undefined) continue
    if (typeof hook !== 'function') throw new FST_COLLAB_INVALID_OPTION(name, 'expected a function')
    Object.assign(hooks, { [name]: hook })
  }
  const debounce = count(raw, 'debounce', 2000)
  const maxDebounce = count(raw, 'maxDebounce', 10000)
  if (maxDebounce < debounce) throw new FST_COLLAB_INVALID_OPTION('maxDebounce', 'expected at least `debounce`')
  return {
    protocol,
    debounce,
    maxDebounce,
    storeRetryDelay: count(raw, 'storeRetryDelay', 1000),
    limits: resolveLimits(raw),
    extensions,
    hooks
  }
}
