// Issue 17 §1: capacity on one document, found by search.
//
// Each measurement is the fan-out of collab.js (one document, n clients, each
// typing `count` one-character updates, one per `interval` ms, evenly
// staggered; a fresh server process), with every delivery timed. Two criteria
// on the same measurements:
//   - capacity: the largest n whose convergence stays within `slack` × the floor
//     (the floor is count × interval: the last update's send);
//   - interactive capacity: the largest n whose p99 delivery latency (every
//     update to every other client, send to arrival) stays within `p99Ms`, and
//     that converges within the slack too.
// The search climbs a ladder (64, 96, 128, 192, 256, 384, …; 48, 32, 24, 16…
// below 64) until a size fails, then bisects between the largest pass and the
// smallest fail down to `resolution` (hi ÷ lo) or 8 clients. It runs for every
// system in lockstep: each step measures every system's next size, in turn,
// so drift in the machine touches them alike. A measurement that takes longer
// than `giveUp` × the floor is stopped and counted a failure.
import { fanout } from './collab.js'

const UP = [64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]
const DOWN = [48, 32, 24, 16, 12, 8, 4]

/** Whether measurement `m` meets `criterion` for a plan. */
export function passes (m, criterion, { slack, p99Ms, floorSeconds }) {
  if (!Number.isFinite(m.seconds)) return false
  const done = Math.max(m.seconds, Number.isFinite(m.ackSeconds) ? m.ackSeconds : 0)
  if (done > slack * floorSeconds) return false
  return criterion === 'converged' || m.p99Ms <= p99Ms
}

/** The next size to measure on `ladder` (ascending; `down` descending, below its first), or null when the search is over. */
function nextSize ({ lo, hi }, resolution, ladder = UP, down = DOWN, step = 8) {
  if (lo === null && hi === null) return ladder[0]
  if (hi === null) return ladder.find((n) => n > lo) ?? null
  if (lo === null) return down.find((n) => n < hi) ?? null
  if (hi - lo <= step || hi / lo <= resolution) return null
  const mid = Math.round((lo + hi) / 2 / step) * step
  return mid > lo && mid < hi ? mid : null
}

/**
 * A search for the largest passing size, per system and criterion, the
 * systems in lockstep: each step measures every system's next size in turn.
 * A size is measured `repeats` times; it passes a criterion when most of its
 * measurements do. Returns, per system, every measurement and each
 * criterion's bounds { lo: largest pass, hi: smallest fail }.
 *
 * @param {object} o
 * @param {string[]} o.ids
 * @param {string[]} o.criteria
 * @param {(m: object, criterion: string) => boolean} o.passes
 * @param {(id: string, size: number) => Promise<object>} o.measure
 * @param {(id: string, size: number, m: object, step: number) => void} o.report
 */
export async function lockstepSearch ({ ids, criteria, passes, measure, report, repeats = 1, resolution = 1.1, max = Infinity, ladder = UP, down = DOWN, step = 8 }) {
  const bySystem = Object.fromEntries(ids.map((id) => [id, {
    measurements: {},
    search: Object.fromEntries(criteria.map((c) => [c, { lo: null, hi: null, done: false }])),
    errors: []
  }]))
  const judge = (id, n, criterion) => {
    const rounds = bySystem[id].measurements[n]
    return rounds.filter((m) => passes(m, criterion)).length * 2 > rounds.length
  }
  for (let stepNo = 1; ; stepNo++) {
    let measured = false
    for (const id of ids) {
      const entry = bySystem[id]
      // What each unfinished criterion wants next; sizes already measured are judged at once.
      const wanted = new Set()
      for (const criterion of criteria) {
        const search = entry.search[criterion]
        for (;;) {
          if (search.done) break
          const n = nextSize(search, resolution, ladder, down, step)
          if (n === null || n > max) { search.done = true; break }
          if (entry.measurements[n] === undefined) { wanted.add(n); break }
          if (judge(id, n, criterion)) search.lo = n
          else search.hi = n
        }
      }
      for (const n of [...wanted].sort((a, b) => a - b)) {
        entry.measurements[n] = []
        for (let r = 0; r < repeats; r++) {
          let m
          try {
            m = await measure(id, n)
          } catch (error) {
            // A failed measurement (connect, awareness) counts as a failure of that size.
            entry.errors.push(`${n}: ${error.message}`)
            m = { seconds: Infinity, p99Ms: Infinity, error: error.message }
          }
          entry.measurements[n].push(m)
          report(id, n, m, stepNo)
        }
        measured = true
      }
    }
    if (!measured) break
  }
  for (const entry of Object.values(bySystem)) {
    entry.capacity = Object.fromEntries(criteria.map((c) => [c, { lo: entry.search[c].lo, hi: entry.search[c].hi }]))
    delete entry.search
  }
  return bySystem
}

/**
 * @param {object} plan { systems, count, interval, slack, p99Ms, resolution, repeats, giveUp, timeoutMs, max }
 * @param {(line: string) => void} log
 * @returns {Promise<{ floorSeconds, bySystem: Record<string, { measurements: Record<number, object[]>, capacity: { converged, interactive }, errors: string[] }> }>}
 */
export async function capacitySearch (plan, log) {
  const { systems, count = 100, interval = 20, slack = 1.1, p99Ms = 100, resolution = 1.1, repeats = 1, giveUp = 3, timeoutMs = 120000, max = Infinity } = plan
  const floorSeconds = count * interval / 1000
  const criteria = ['converged', 'interactive']
  const bounds = { slack, p99Ms, floorSeconds }
  const bySystem = await lockstepSearch({
    ids: systems,
    criteria,
    repeats,
    resolution,
    max,
    passes: (m, criterion) => passes(m, criterion, bounds),
    measure: (id, n) => fanout(id, { n, count, interval, timeoutMs, latency: true, giveUpMs: giveUp * floorSeconds * 1000 + 2000, connectInFlight: 64 }),
    report: (id, n, m, step) => {
      if (m.error !== undefined) return log(`capacity · step ${step} · ${id} · ${n} clients: FAILED ${m.error}`)
      const verdicts = criteria.map((c) => `${c} ${passes(m, c, bounds) ? 'pass' : 'FAIL'}`).join(', ')
      log(`capacity · step ${step} · ${id} · ${n} clients: converged ${fmtS(m.seconds)}, p99 ${fmtMs(m.p99Ms)}, server CPU ${pct(m.serverShare)}, generator core ${pct(m.generatorCoreBusy)}, late ${fmtMs(m.maxLateMs)} → ${verdicts}`)
    }
  })
  return { floorSeconds, bySystem }
}

/**
 * Issue 17: `n` writers (1,000) on one document, each typing `count` (20)
 * updates one per `interval` ms: the convergence against the floor, the
 * delivery latency, and whether the load generator kept up.
 */
export function manyWriters (id, { n, count, interval, timeoutMs, giveUpMs }) {
  return fanout(id, { n, count, interval, timeoutMs, latency: true, giveUpMs, connectInFlight: 64 })
}

const fmtS = (s) => Number.isFinite(s) ? `${s.toFixed(2)} s` : 'gave up'
const fmtMs = (ms) => Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : '—'
const pct = (v) => Number.isFinite(v) ? `${(v * 100).toFixed(0)} %` : '—'
