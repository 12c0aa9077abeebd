/**
 * A Y.Text's delta as it reads, for comparing two texts: neighbouring strings with the same attributes in one
 * run (Yjs's `toDelta` splits them at a redundant formatting marker), attributes whose value is `null` left out
 * (they format nothing), attribute keys sorted.
 *
 * @param {import('yjs').Text} text
 * @returns {Array<{ insert: unknown, attributes?: Record<string, unknown> }>}
 */
export function readDelta (text) {
  const ops = []
  for (const op of text.toDelta()) {
    const entries = Object.entries(op.attributes ?? {}).filter(([, value]) => value !== null).sort(([a], [b]) => a < b ? -1 : 1)
    const clean = entries.length === 0 ? { insert: op.insert } : { insert: op.insert, attributes: Object.fromEntries(entries) }
    const last = ops[ops.length - 1]
    if (typeof clean.insert === 'string' && typeof last?.insert === 'string' && JSON.stringify(last.attributes) === JSON.stringify(clean.attributes)) {
      last.insert += clean.insert
    } else {
      ops.push(clean)
    }
  }
  return ops
}
