/**
 * Waiting without sleeping. Every wait here resolves on an event (or, for
 * `waitFor` only, a condition polled where no event exists) and rejects after a
 * timeout with a message that says what was awaited, so a broken server fails a
 * test quickly instead of hanging it.
 */

import { once as firstEvent } from 'node:events'

/**
 * `events.once` with a bound: resolves with the event's arguments (an array)
 * the first time `event` fires on `emitter`, and rejects, as `events.once`
 * does, if the emitter emits 'error' first.
 *
 * @param {import('node:events').EventEmitter} emitter
 * @param {string} event
 * @param {{ timeout?: number, what?: string }} [options] `timeout` in ms,
 *   default 5000; `what` names the wait in the rejection (by default the
 *   event and the emitter's class).
 * @returns {Promise<any[]>} rejects with an Error naming `what` after `timeout` ms.
 */
export async function once (emitter, event, { timeout = 5000, what = `'${event}' on a ${emitter.constructor.name}` } = {}) {
  const signal = AbortSignal.timeout(timeout)
  try {
    return await firstEvent(emitter, event, { signal })
  } catch (error) {
    if (signal.aborted) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    throw error
  }
}

/**
 * Resolves with the event's arguments (an array) the first time `event` (or
 * any of several events) fires on `target` (or any of several targets) with
 * arguments that pass `predicate`.
 *
 * A target is anything with `on(event, fn)` and `off(event, fn)`: a Node
 * EventEmitter, a lib0 Observable (Y.Doc, Awareness, y-websocket's
 * WebsocketProvider) or Hocuspocus's EventEmitter. `check` (optional) replaces
 * `predicate` and is also tried once at once, so a condition that already
 * holds resolves without an event.
 *
 * @param {{ on: Function, off: Function } | Array<{ on: Function, off: Function }>} target
 * @param {string | string[]} event
 * @param {{ predicate?: (...args: any[]) => boolean, check?: () => boolean, timeout?: number, what?: string }} [options]
 *   `timeout` in ms, default 5000; `what` names the wait in the rejection (by default the event
 *   and the source of `check` or `predicate`).
 * @returns {Promise<any[]>} rejects with an Error after `timeout` ms, or with what `predicate`/`check` threw.
 */
export function when (target, event, { predicate, check, timeout = 5000, what = `${event}${check || predicate ? ` until ${check ?? predicate}` : ''}` } = {}) {
  predicate ??= () => true
  const targets = [target].flat()
  const events = [event].flat()
  return new Promise((resolve, reject) => {
    if (check?.()) return resolve([])
    const off = () => { for (const each of targets) for (const name of events) each.off(name, listener) }
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out after ${timeout} ms waiting for ${what}`))
    }, timeout)
    function listener (...args) {
      let done
      try {
        done = check ? check() : predicate(...args)
      } catch (error) {
        done = error
      }
      if (!done) return
      clearTimeout(timer)
      off()
      if (done instanceof Error) reject(done)
      else resolve(args)
    }
    for (const each of targets) for (const name of events) each.on(name, listener)
  })
}

/**
 * Resolves once `check()` is true, re-checking after every `update` of each
 * Y.Doc in `docs`. The way to wait for convergence: no polling, no sleeping.
 *
 * @param {import('yjs').Doc[]} docs
 * @param {() => boolean} check
 * @param {{ timeout?: number, what?: string }} [options] `timeout` in ms, default 5000.
 * @returns {Promise<void>} rejects with an Error naming `what` after `timeout` ms.
 */
export async function untilDocs (docs, check, { timeout, what = `the documents until ${check}` } = {}) {
  await when(docs, 'update', { check, timeout, what })
}

/**
 * Polls `check()` every `interval` ms until it is true. Only for conditions
 * that no event announces (e.g. a server-side counter); prefer `when`.
 *
 * @param {() => boolean | Promise<boolean>} check
 * @param {{ timeout?: number, interval?: number, what?: string }} [options]
 *   `timeout` in ms, default 5000; `interval` in ms, default 10.
 * @returns {Promise<void>} rejects with an Error naming `what` after `timeout` ms.
 */
export async function waitFor (check, { timeout = 5000, interval = 10, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, interval))
  }
}

/**
 * Bounds a promise that no event of ours settles (a browser's answer): resolves
 * or rejects as `promise` does, or rejects after `timeout` ms.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {{ timeout?: number, what?: string }} [options] `timeout` in ms, default 5000.
 * @returns {Promise<T>} rejects with an Error naming `what` after `timeout` ms.
 */
export async function within (promise, { timeout = 5000, what = 'a promise' } = {}) {
  let timer
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A promise with its resolve and reject exposed (Promise.withResolvers, which
 * Node 20 lacks). Hooks resolve it to tell the test they ran, or wait on it
 * while the test holds them; the test waits on it with `wait()`, which is
 * bounded.
 *
 * @template T
 * @param {string} what names the wait in the rejection, e.g. 'onStoreDocument to start'.
 * @returns {{ promise: Promise<T>, resolve: (value: T) => void, reject: (reason: unknown) => void, wait: (options?: { timeout?: number }) => Promise<T> }}
 *   `wait()` rejects with an Error naming `what` after `timeout` ms, default 5000.
 */
export function deferred (what) {
  const handle = {}
  handle.promise = new Promise((resolve, reject) => Object.assign(handle, { resolve, reject }))
  handle.wait = ({ timeout } = {}) => within(handle.promise, { timeout, what })
  return handle
}
