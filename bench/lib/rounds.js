// Alternating rounds: round 1 measures A, B, C; round 2 measures A, B, C
// again; and so on. Drift in the machine's speed (other processes, thermal)
// then touches every system alike instead of favouring whichever ran first.

/**
 * @param {string} label for the progress log
 * @param {string[]} ids the systems, in the order they run within a round
 * @param {number} rounds
 * @param {(id: string, round: number) => Promise<object>} measure one fresh measurement
 * @param {(line: string) => void} log
 * @param {Record<string, number>} [fewer] systems that take part in fewer
 *   rounds (the first ones), to bound the time the slow ones take
 * @returns {Promise<Record<string, { rounds: object[], errors: string[] }>>}
 */
export async function alternate (label, ids, rounds, measure, log, fewer = {}) {
  const results = Object.fromEntries(ids.map((id) => [id, { rounds: [], errors: [] }]))
  for (let round = 1; round <= rounds; round++) {
    for (const id of ids) {
      if (round > (fewer[id] ?? rounds)) continue
      try {
        const value = await measure(id, round)
        results[id].rounds.push(value)
        log(`${label} · round ${round} · ${id}: ${summary(value)}`)
      } catch (error) {
        results[id].errors.push(`round ${round}: ${error.message}`)
        log(`${label} · round ${round} · ${id}: FAILED ${error.message}`)
      }
    }
  }
  return results
}

function summary (value) {
  return Object.entries(value)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ')
}
