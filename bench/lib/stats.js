// Small helpers for summarising rounds.
export function median (values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool (items, limit, fn) {
  const results = new Array(items.length)
  let next = 0
  async function worker () {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Resolves after `ms`, or rejects with a timeout error if `promise` does not settle first. */
export function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms) })
  ])
}

export const fmt = {
  int: (v) => Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—',
  n1: (v) => Number.isFinite(v) ? v.toFixed(1) : '—',
  n2: (v) => Number.isFinite(v) ? v.toFixed(2) : '—',
  kib: (bytes) => Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : '—',
  ratio: (v) => Number.isFinite(v) ? v.toFixed(2) + ' ×' : '—'
}
