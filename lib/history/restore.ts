// Making a live document's content equal to a version's, as edits on the
// live document (so the caller can make them one transaction, one change).
//
// A Y.Text gets a minimal character diff (see text-diff.ts): deletions and
// insertions where the texts differ, formatting where only that differs,
// so every character both states share keeps its Yjs identity, and with it
// every relative position (cursors, comments anchored in the text). Other
// roots are compared whole and, where they differ, refilled with clones:
// a Y.Map entry by entry, a Y.Array and a Y.XmlFragment as a whole.

import * as Y from 'yjs'
import { cloneValue, kindAcross, rootNames, sameJson, sameValue, typed, type RootKind } from './roots.js'
import { diffText, type DiffGranularity } from './text-diff.js'

/** What restoring did to one root. */
export interface RootRestore {
  name: string
  kind: RootKind
  /**
   * - `'unchanged'`: it already held the version's content;
   * - `'diff'`: a Y.Text edited by a character diff (`granularity` says how fine);
   * - `'replaced'`: its content (or, for a Y.Map, the entries that differ) replaced by clones.
   */
  action: 'unchanged' | 'diff' | 'replaced'
  granularity?: DiffGranularity
}

type Attributes = Record<string, unknown>
interface DeltaOp { insert: string | object, attributes?: Attributes }

/** A Y.Text as one string (each embed one private-use character) with the attributes and embed of each position. */
interface Spelled {
  text: string
  /** Per UTF-16 position, the attributes of its run (shared per run), or undefined. */
  attributes: Array<Attributes | undefined>
  /** Positions that hold an embed, with it. */
  embeds: Map<number, unknown>
}

// Unicode's Private Use Area: each distinct embed of either text stands as one of these, unused by both texts.
const PUA_FIRST = 0xe000
const PUA_LAST = 0xf8ff

/** `delta` spelled with `placeholders`; null when it holds an embed that has none. */
function spell (delta: readonly DeltaOp[], placeholders: Map<string, string>): Spelled | null {
  const parts: string[] = []
  const attributes: Array<Attributes | undefined> = []
  const embeds = new Map<number, unknown>()
  for (const op of delta) {
    if (typeof op.insert === 'string') {
      parts.push(op.insert)
      for (let i = 0; i < op.insert.length; i++) attributes.push(op.attributes)
    } else {
      const placeholder = placeholders.get(JSON.stringify(op.insert))
      if (placeholder === undefined) return null
      embeds.set(attributes.length, op.insert)
      parts.push(placeholder)
      attributes.push(op.attributes)
    }
  }
  return { text: parts.join(''), attributes, embeds }
}

/** Placeholders for the embeds of both deltas, or null when the private-use characters run out. */
function placeholdersFor (deltas: ReadonlyArray<readonly DeltaOp[]>): Map<string, string> | null {
  const used = new Set<number>()
  const keys = new Set<string>()
  for (const delta of deltas) {
    for (const op of delta) {
      if (typeof op.insert !== 'string') {
        keys.add(JSON.stringify(op.insert))
        continue
      }
      for (let i = 0; i < op.insert.length; i++) {
        const code = op.insert.charCodeAt(i)
        if (code >= PUA_FIRST && code <= PUA_LAST) used.add(code)
      }
    }
  }
  const placeholders = new Map<string, string>()
  let code = PUA_FIRST
  for (const key of keys) {
    while (used.has(code)) code++
    if (code > PUA_LAST) return null
    placeholders.set(key, String.fromCharCode(code++))
  }
  return placeholders
}

/** The attribute changes that turn `from` into `to`: `to`'s values, and null for what only `from` has. */
function attributeChange (from: Attributes | undefined, to: Attributes | undefined): Attributes | null {
  if (sameJson(from ?? {}, to ?? {})) return null
  const change: Attributes = { ...to }
  for (const key of Object.keys(from ?? {})) if (!Object.hasOwn(change, key)) change[key] = null
  return change
}

/**
 * A Y.Text's delta as it reads: neighbouring strings with the same attributes in one run (a redundant
 * formatting marker between them splits them in `toDelta`), and no attribute whose value is `null` (which
 * formats nothing).
 */
function deltaOf (text: Y.Text): DeltaOp[] {
  const ops: DeltaOp[] = []
  for (const op of text.toDelta() as DeltaOp[]) {
    const attributes = Object.fromEntries(Object.entries(op.attributes ?? {}).filter(([, value]) => value !== null))
    const clean: DeltaOp = Object.keys(attributes).length === 0 ? { insert: op.insert } : { insert: op.insert, attributes }
    const last = ops[ops.length - 1]
    if (typeof clean.insert === 'string' && typeof last?.insert === 'string' && sameJson(last.attributes ?? {}, clean.attributes ?? {})) {
      ops[ops.length - 1] = { ...last, insert: last.insert + clean.insert }
    } else {
      ops.push(clean)
    }
  }
  return ops
}

function cloneDelta (delta: readonly DeltaOp[]): DeltaOp[] {
  return delta.map((op) => ({ ...op, insert: typeof op.insert === 'string' ? op.insert : cloneValue(op.insert) as object }))
}

/**
 * Edits `live` until its delta (text, embeds, formatting) equals `target`'s, by a character diff. Falls back to
 * replacing the whole text when the diff cannot express it (more distinct embeds than private-use characters,
 * or a result that differs: it is checked).
 */
function restoreText (live: Y.Text, target: Y.Text, diffTimeout: number): { action: RootRestore['action'], granularity?: DiffGranularity } {
  const liveDelta = deltaOf(live)
  const targetDelta = deltaOf(target)
  if (sameJson(liveDelta, targetDelta)) return { action: 'unchanged' }
  const placeholders = placeholdersFor([liveDelta, targetDelta])
  const before = placeholders === null ? null : spell(liveDelta, placeholders)
  const after = placeholders === null ? null : spell(targetDelta, placeholders)
  if (placeholders !== null && before !== null && after !== null) {
    const { changes, granularity } = diffText(before.text, after.text, diffTimeout)
    const plain = [liveDelta, targetDelta].every((delta) => delta.every((op) => op.attributes === undefined))
    // pos: in the live text as edited so far; from: in the live text as it was; to: in the target.
    let pos = 0
    let from = 0
    let to = 0
    for (const { type, text: { length } } of changes) {
      if (type === 'delete') {
        live.delete(pos, length)
        from += length
      } else if (type === 'insert') {
        insertRange(live, pos, after, to, length, plain)
        pos += length
        to += length
      } else {
        formatRange(live, pos, before, from, after, to, length)
        pos += length
        from += length
        to += length
      }
    }
    let now = deltaOf(live)
    if (sameJson(now, targetDelta)) return { action: 'diff', granularity }
    // Formatting markers left by earlier edits (of deleted text) can format an insertion other than asked:
    // the characters are right, so their attributes are set again, range by range.
    const spelled = spell(now, placeholders)
    if (spelled !== null && spelled.text === after.text) {
      formatRange(live, 0, spelled, 0, after, 0, after.text.length)
      now = deltaOf(live)
      if (sameJson(now, targetDelta)) return { action: 'diff', granularity }
    }
  }
  live.delete(0, live.length)
  live.applyDelta(cloneDelta(targetDelta))
  return { action: 'replaced' }
}

// `plain`: neither text has formatting, so an insertion is given no attributes: Yjs then finds its position
// through the text's search markers, where with attributes it walks from the start (1.5 s instead of
// milliseconds for 300 insertions into a 1 MiB text of 16,000 items).
function insertRange (live: Y.Text, pos: number, after: Spelled, to: number, length: number, plain: boolean): void {
  let start = to
  const end = to + length
  if (plain && !hasEmbed(after, to, end)) {
    live.insert(pos, after.text.slice(to, end))
    return
  }
  while (start < end) {
    // A copy: Yjs writes into the attributes it is given (null for each attribute it ends there).
    const attributes = { ...after.attributes[start] }
    if (after.embeds.has(start)) {
      live.insertEmbed(pos + start - to, cloneValue(after.embeds.get(start)) as object, attributes)
      start++
      continue
    }
    let stop = start + 1
    while (stop < end && after.attributes[stop] === after.attributes[start] && !after.embeds.has(stop)) stop++
    live.insert(pos + start - to, after.text.slice(start, stop), attributes)
    start = stop
  }
}

function hasEmbed (spelled: Spelled, from: number, to: number): boolean {
  for (const position of spelled.embeds.keys()) if (position >= from && position < to) return true
  return false
}

function formatRange (live: Y.Text, pos: number, before: Spelled, from: number, after: Spelled, to: number, length: number): void {
  let i = 0
  while (i < length) {
    const was = before.attributes[from + i]
    const is = after.attributes[to + i]
    let j = i + 1
    while (j < length && before.attributes[from + j] === was && after.attributes[to + j] === is) j++
    const change = attributeChange(was, is)
    if (change !== null) live.format(pos + i, j - i, change)
    i = j
  }
}

function restoreMap (live: Y.Map<unknown>, target: Y.Map<unknown>): RootRestore['action'] {
  let changed = false
  for (const key of [...live.keys()]) {
    if (target.has(key)) continue
    live.delete(key)
    changed = true
  }
  for (const [key, value] of target.entries()) {
    if (live.has(key) && sameValue(live.get(key), value)) continue
    live.set(key, cloneValue(value))
    changed = true
  }
  return changed ? 'replaced' : 'unchanged'
}

function restoreList (live: Y.Array<unknown> | Y.XmlFragment, target: Y.Array<unknown> | Y.XmlFragment): RootRestore['action'] {
  const now = live.toArray()
  const then = target.toArray()
  if (now.length === then.length && now.every((value, i) => sameValue(value, then[i]))) return 'unchanged'
  live.delete(0, live.length)
  const clones = then.map(cloneValue)
  if (live instanceof Y.XmlFragment) live.insert(0, clones as Array<Y.XmlElement | Y.XmlText>)
  else live.insert(0, clones)
  return 'replaced'
}

/**
 * Makes the content of every root of `live` equal to that root in `target`; a root `target` lacks is emptied.
 * The kind of each root is read from both states (see `kindAcross` in roots.ts); a root empty in both is left
 * alone. Call it inside one transaction on `live`. `target` is the caller's scratch copy: its roots get typed.
 *
 * @param diffTimeout ms each jsdiff attempt on a Y.Text may take (see diffText).
 * @returns what was done to each root that has a kind.
 * @internal
 */
export function restoreContent (live: Y.Doc, target: Y.Doc, diffTimeout: number): RootRestore[] {
  const done: RootRestore[] = []
  for (const name of rootNames(live, target)) {
    const kind = kindAcross(name, live, target)
    if (kind === undefined) continue
    const liveRoot = typed(live, name, kind)
    const targetRoot = typed(target, name, kind)
    if (kind === 'text') {
      done.push({ name, kind, ...restoreText(liveRoot as Y.Text, targetRoot as Y.Text, diffTimeout) })
    } else if (kind === 'map') {
      done.push({ name, kind, action: restoreMap(liveRoot as Y.Map<unknown>, targetRoot as Y.Map<unknown>) })
    } else {
      done.push({ name, kind, action: restoreList(liveRoot as Y.Array<unknown>, targetRoot as Y.Array<unknown>) })
    }
  }
  return done
}
