// Text differences for history, computed by jsdiff (the `diff` package).
// jsdiff's Myers diff costs O(N·D) (N tokens, D edits) and runs
// synchronously, so a character diff of a large document edited in many
// places is slow. As diff-match-patch does, the changed middle is diffed by
// lines first (few tokens), and then each changed hunk by characters,
// smallest first, while a time budget lasts; a hunk the budget does not
// reach stays as its lines. Every result is a correct diff (applying it to
// the old text gives the new one); the finer it is, the more of the old text
// keeps its identity on restore.

import { diffChars, diffLines, type ChangeObject } from 'diff'

/** One run of a text diff: text kept, inserted or deleted. */
export interface TextChange {
  type: 'equal' | 'insert' | 'delete'
  text: string
}

/**
 * How fine a diff came out: `'char'` when every changed hunk was diffed by characters; `'line'` when some hunks
 * stayed whole lines (the time budget ran out); `'whole'` when even the line diff did not fit, and the changed
 * middle is one deletion and one insertion.
 */
export type DiffGranularity = 'char' | 'line' | 'whole'

/**
 * The difference from `from` to `to`, as runs in order: the `equal` and `delete` runs spell `from`, the
 * `equal` and `insert` runs spell `to`; no run is empty, and no two neighbours have the same type.
 *
 * The common prefix and suffix are equal runs. Between them, jsdiff's `diffLines` when either side holds a
 * line break, then its `diffChars` on each changed hunk, smallest first. Together they take about `timeout`
 * ms at most (synchronously): the budget is shared, and what it does not reach stays coarser.
 *
 * @param timeout ms the jsdiff calls may take in all. Default 250.
 * @internal
 */
export function diffText (from: string, to: string, timeout = 250): { changes: TextChange[], granularity: DiffGranularity } {
  const deadline = Date.now() + timeout
  const remaining = (): number => Math.max(0, deadline - Date.now())
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

  // The middle by lines, as hunks: equal lines, or a changed stretch (what was there, what is there now).
  type Hunk = { equal: string } | { deleted: string, inserted: string, refined?: TextChange[] }
  let hunks: Hunk[] = [{ deleted: oldMiddle, inserted: newMiddle }]
  let granularity: DiffGranularity = 'char'
  if (oldMiddle !== '' && newMiddle !== '' && (oldMiddle.includes('\n') || newMiddle.includes('\n'))) {
    const lines = diffLines(oldMiddle, newMiddle, { timeout: remaining() })
    if (lines === undefined) {
      granularity = 'whole'
    } else {
      hunks = []
      for (const change of lines) {
        const last = hunks[hunks.length - 1]
        if (!change.added && !change.removed) hunks.push({ equal: change.value })
        else if (last !== undefined && 'deleted' in last) last[change.added ? 'inserted' : 'deleted'] += change.value
        else hunks.push(change.added ? { deleted: '', inserted: change.value } : { deleted: change.value, inserted: '' })
      }
    }
  }
  // Each hunk that both deletes and inserts, by characters, smallest first, while the budget lasts.
  if (granularity === 'char') {
    const changed = hunks.filter((hunk): hunk is Extract<Hunk, { deleted: string }> => 'deleted' in hunk && hunk.deleted !== '' && hunk.inserted !== '')
    changed.sort((a, b) => (a.deleted.length + a.inserted.length) - (b.deleted.length + b.inserted.length))
    for (const hunk of changed) {
      const budget = remaining()
      const chars: Array<ChangeObject<string>> | undefined = budget > 0 ? diffChars(hunk.deleted, hunk.inserted, { timeout: budget }) : undefined
      if (chars === undefined) {
        granularity = hunks.length === 1 ? 'whole' : 'line'
        continue
      }
      hunk.refined = chars.map((change) => ({ type: change.added ? 'insert' : change.removed ? 'delete' : 'equal', text: change.value }))
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
  for (const hunk of hunks) {
    if ('equal' in hunk) {
      push({ type: 'equal', text: hunk.equal })
    } else if (hunk.refined !== undefined) {
      for (const change of hunk.refined) push(change)
    } else {
      push({ type: 'delete', text: hunk.deleted })
      push({ type: 'insert', text: hunk.inserted })
    }
  }
  push({ type: 'equal', text: from.slice(from.length - end) })
  return { changes: runs, granularity }
}

function isHighSurrogate (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isLowSurrogate (code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}
