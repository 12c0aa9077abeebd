// Text differences for history, computed by jsdiff (the `diff` package):
// character by character when that fits in the time budget, line by line
// when it does not, and as one replacement of the changed middle when even
// that does not. Every level is a correct diff (applying it to the old text
// gives the new one); the finer the level, the more of the old text keeps
// its identity on restore. jsdiff's Myers diff costs O(N·D) (N characters, D
// edits) and runs synchronously, so its `timeout` bounds how long the event
// loop is held.

import { diffChars, diffLines, type ChangeObject } from 'diff'

/** One run of a text diff: text kept, inserted or deleted. */
export interface TextChange {
  type: 'equal' | 'insert' | 'delete'
  text: string
}

/** How fine a diff came out: see {@link diffText}. */
export type DiffGranularity = 'char' | 'line' | 'whole'

/**
 * The difference from `from` to `to`, as runs in order: the `equal` and `delete` runs spell `from`, the
 * `equal` and `insert` runs spell `to`; no run is empty, and no two neighbours have the same type.
 *
 * The common prefix and suffix are equal runs. Between them, jsdiff's `diffChars` (within `timeout` ms), then
 * its `diffLines` (within `timeout` ms more), then the whole middle as one delete and one insert.
 *
 * @param timeout ms each of the two jsdiff attempts may take (synchronously). Default 250.
 */
export function diffText (from: string, to: string, timeout = 250): { changes: TextChange[], granularity: DiffGranularity } {
  let start = 0
  const shorter = Math.min(from.length, to.length)
  while (start < shorter && from.charCodeAt(start) === to.charCodeAt(start)) start++
  // A surrogate pair is never split: jsdiff counts code points.
  if (start > 0 && isHighSurrogate(from.charCodeAt(start - 1))) start--
  let end = 0
  while (end < shorter - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++
  if (end > 0 && isLowSurrogate(from.charCodeAt(from.length - end))) end--
  const oldMiddle = from.slice(start, from.length - end)
  const newMiddle = to.slice(start, to.length - end)

  let granularity: DiffGranularity = 'char'
  let middle: TextChange[]
  if (oldMiddle === '' || newMiddle === '') {
    middle = [{ type: 'delete', text: oldMiddle }, { type: 'insert', text: newMiddle }]
  } else {
    let changes: Array<ChangeObject<string>> | undefined = diffChars(oldMiddle, newMiddle, { timeout })
    if (changes === undefined) {
      granularity = 'line'
      changes = diffLines(oldMiddle, newMiddle, { timeout })
    }
    if (changes === undefined) {
      granularity = 'whole'
      middle = [{ type: 'delete', text: oldMiddle }, { type: 'insert', text: newMiddle }]
    } else {
      middle = changes.map((change) => ({ type: change.added ? 'insert' : change.removed ? 'delete' : 'equal', text: change.value }))
    }
  }
  const runs: TextChange[] = []
  const push = (change: TextChange): void => {
    if (change.text === '') return
    const last = runs[runs.length - 1]
    if (last?.type === change.type) last.text += change.text
    else runs.push({ ...change })
  }
  push({ type: 'equal', text: from.slice(0, start) })
  for (const change of middle) push(change)
  push({ type: 'equal', text: from.slice(from.length - end) })
  return { changes: runs, granularity }
}

function isHighSurrogate (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isLowSurrogate (code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}
