// A fake clock for the history's `clock` option (HistoryClock): time moves only when the test says, and
// timers fire in the order they are due as it moves. Nothing else in the process is faked: the store, the
// sockets and the core keep Node's own timers.

/**
 * @param {number} [start] the time to start at, in ms since the Unix epoch; default 2025-01-01T00:00:00Z.
 * @returns {FakeClock}
 */
export function fakeClock (start = Date.UTC(2025, 0, 1)) {
  let now = start
  let next = 1
  /** @type {Map<number, { due: number, fn: () => void }>} */
  const timers = new Map()
  return {
    now: () => now,
    setTimeout (fn, ms) {
      const handle = next++
      timers.set(handle, { due: now + ms, fn })
      return handle
    },
    clearTimeout (handle) {
      timers.delete(handle)
    },
    get pending () {
      return timers.size
    },
    advance (ms) {
      const until = now + ms
      for (;;) {
        let first = null
        for (const [handle, timer] of timers) if (timer.due <= until && (first === null || timer.due < first[1].due)) first = [handle, timer]
        if (first === null) break
        timers.delete(first[0])
        now = first[1].due
        first[1].fn()
      }
      now = until
    },
    set (time) {
      now = time
    }
  }
}

/**
 * @typedef {object} FakeClock
 * @property {() => number} now
 * @property {(fn: () => void, ms: number) => number} setTimeout
 * @property {(handle: number) => void} clearTimeout
 * @property {number} pending timers armed and not fired.
 * @property {(ms: number) => void} advance moves time on by `ms`, firing each timer due meanwhile at its time, in order.
 * @property {(time: number) => void} set sets the time (timers do not fire).
 */
