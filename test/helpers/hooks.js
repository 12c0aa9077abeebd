import { EventEmitter } from 'node:events'
import { when } from './wait.js'

/**
 * Hook functions that record every call, for the plugin's top-level hook
 * options, and a way to wait for a call.
 *
 * Each recorded call is the hook's payload plus `text`: the document's
 * `getText(field)` content at the moment of the call (the payload's `document`
 * changes afterwards, so stores are checked against this snapshot).
 *
 * @param {string[]} names hook names, e.g. ['onChange', 'onStoreDocument'].
 * @param {{ field?: string }} [options] the Y.Text to snapshot, default 'text'.
 * @returns {{
 *   hooks: Record<string, (payload: object) => Promise<void>>,
 *   calls: Record<string, Array<object & { text?: string }>>,
 *   until: (name: string, predicate?: (call: object) => boolean, options?: { timeout?: number, what?: string }) => Promise<unknown>
 * }} `until` resolves once a call of `name` passes `predicate` (already made
 *   or still to come) and rejects after `timeout` ms (default 5000).
 */
export function recordHooks (names, { field = 'text' } = {}) {
  const events = new EventEmitter()
  const calls = Object.fromEntries(names.map(name => [name, []]))
  const hooks = Object.fromEntries(names.map(name => [name, async payload => {
    const call = { ...payload, text: payload.document?.getText(field).toString() }
    calls[name].push(call)
    events.emit(name, call)
  }]))
  return {
    hooks,
    calls,
    until: (name, predicate = () => true, { timeout, what = name } = {}) =>
      when(events, name, { check: () => calls[name].some(predicate), timeout, what })
  }
}
