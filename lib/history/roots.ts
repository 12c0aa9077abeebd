// The root types of a Y.Doc decoded from an update. Yjs keeps no type names
// in an update: a root arrives as a bare AbstractType until someone asks for
// it with getText, getMap, getArray or getXmlFragment. Its kind is read from
// what it holds, and only from what is still there (a deleted item that was
// garbage-collected says nothing).

import * as Y from 'yjs'

/** The kinds of root type history tells apart. */
export type RootKind = 'text' | 'map' | 'array' | 'xml'

/**
 * The root of `name` in `doc`, without defining it.
 * @internal
 */
export function rootOf (doc: Y.Doc, name: string): Y.AbstractType<any> | undefined {
  return doc.share.get(name)
}

/**
 * The kind of a root type: its class when the app defined it (getText…), otherwise what its content says:
 * strings, formats and embeds make a Y.Text; XML elements and XML text a Y.XmlFragment; else keys make a Y.Map,
 * and any other content a Y.Array. `undefined` when it holds nothing that tells (an empty or wholly collected root).
 * @internal
 */
export function kindOf (type: Y.AbstractType<any> | undefined): RootKind | undefined {
  if (type === undefined) return undefined
  if (type instanceof Y.XmlFragment) return 'xml'
  if (type instanceof Y.Text) return 'text'
  if (type instanceof Y.Map) return 'map'
  if (type instanceof Y.Array) return 'array'
  let listed: RootKind | undefined
  for (let item = type._start; item !== null && listed === undefined; item = item.right) {
    const { content } = item
    if (content instanceof Y.ContentDeleted) continue
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) listed = 'text'
    else if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText || content.type instanceof Y.XmlHook)) listed = 'xml'
    else listed = 'array'
  }
  // A Y.Text keeps its attributes (setAttribute) in the same map a Y.Map keeps its entries.
  if (listed === 'text' || listed === 'xml') return listed
  return type._map.size > 0 ? 'map' : listed
}

/**
 * The root `name` of `doc` as the class of `kind` (defining it there when it is still a bare AbstractType).
 * @internal
 */
export function typed (doc: Y.Doc, name: string, kind: 'text'): Y.Text
/** @internal */
export function typed (doc: Y.Doc, name: string, kind: 'map'): Y.Map<unknown>
/** @internal */
export function typed (doc: Y.Doc, name: string, kind: 'array'): Y.Array<unknown>
/** @internal */
export function typed (doc: Y.Doc, name: string, kind: 'xml'): Y.XmlFragment
/** @internal */
export function typed (doc: Y.Doc, name: string, kind: RootKind): Y.AbstractType<any>
/** @internal */
export function typed (doc: Y.Doc, name: string, kind: RootKind): Y.AbstractType<any> {
  switch (kind) {
    case 'text': return doc.getText(name)
    case 'map': return doc.getMap(name)
    case 'array': return doc.getArray(name)
    case 'xml': return doc.getXmlFragment(name)
  }
}

/**
 * The kind of root `name` across two states of one document: the first that tells (see {@link kindOf}), the
 * class an app defined first. `undefined` when neither holds anything that tells: both are empty.
 * @internal
 */
export function kindAcross (name: string, ...docs: Y.Doc[]): RootKind | undefined {
  const defined = docs.map((doc) => rootOf(doc, name)).find((type) => type !== undefined && type.constructor !== Y.AbstractType)
  if (defined !== undefined) return kindOf(defined)
  for (const doc of docs) {
    const kind = kindOf(rootOf(doc, name))
    if (kind !== undefined) return kind
  }
  return undefined
}

/**
 * The names of the root types of several docs, each once, in order of first appearance.
 * @internal
 */
export function rootNames (...docs: Y.Doc[]): string[] {
  const names = new Set<string>()
  for (const doc of docs) for (const name of doc.share.keys()) names.add(name)
  return [...names]
}

/**
 * The text a person reads in an XML tree (a ProseMirror or Tiptap document): the text of each Y.XmlText; an
 * element's children joined as they are when it holds text, one per line when it holds only elements (blocks).
 * @internal
 */
export function xmlText (node: Y.XmlFragment | Y.XmlElement | Y.XmlText | Y.XmlHook): string {
  if (node instanceof Y.XmlText) return textOf(node)
  if (node instanceof Y.XmlHook) return ''
  const children = node.toArray() as Array<Y.XmlElement | Y.XmlText | Y.XmlHook>
  const blocks = children.length > 0 && children.every((child) => child instanceof Y.XmlElement)
  return children.map(xmlText).join(blocks || !(node instanceof Y.XmlElement) ? '\n' : '')
}

/**
 * The characters of a Y.Text (or Y.XmlText), without formatting or embeds.
 * @internal
 */
export function textOf (text: Y.Text): string {
  let out = ''
  for (const op of text.toDelta() as Array<{ insert: unknown }>) if (typeof op.insert === 'string') out += op.insert
  return out
}

/**
 * A copy of a value held by a Y type, for another document: Y types are cloned, other values shared.
 * @internal
 */
export function cloneValue (value: unknown): unknown {
  if (value instanceof Y.AbstractType) return (value as Y.AbstractType<any> & { clone: () => unknown }).clone()
  return value
}

/**
 * Whether two values held by Y types have the same content: the same class and the same JSON (`toJSON` of a Y
 * type), Uint8Arrays byte for byte.
 * @internal
 */
export function sameValue (a: unknown, b: unknown): boolean {
  if (a instanceof Y.AbstractType || b instanceof Y.AbstractType) {
    return a !== null && b !== null && (a as object).constructor === (b as object).constructor && sameJson(json(a), json(b))
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
  return sameJson(a, b)
}

function json (value: unknown): unknown {
  if (value instanceof Y.XmlFragment || value instanceof Y.XmlElement || value instanceof Y.XmlText) return value.toString()
  if (value instanceof Y.Text) return value.toDelta()
  return (value as { toJSON: () => unknown }).toJSON()
}

/**
 * Deep equality of JSON-like values (keys in any order); Y types compare as their JSON.
 * @internal
 */
export function sameJson (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a instanceof Y.AbstractType || b instanceof Y.AbstractType) return sameValue(a, b)
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && sameValue(a, b)
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const other = b as unknown[]
    return a.length === other.length && a.every((value, i) => sameJson(value, other[i]))
  }
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  const keys = Object.keys(left)
  if (keys.length !== Object.keys(right).length) return false
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
}
