// Who this tab is, for the presence list and the remote cursors. Pure functions, so that
// the page and its tests agree on the shapes.

/** Colours that stay readable as a cursor on white; `light` is the selection background. */
export const palette = [
  { color: '#d7263d', light: '#d7263d33' },
  { color: '#1b998b', light: '#1b998b33' },
  { color: '#2e86ab', light: '#2e86ab33' },
  { color: '#f46036', light: '#f4603633' },
  { color: '#7b2cbf', light: '#7b2cbf33' },
  { color: '#c2185b', light: '#c2185b33' },
  { color: '#3a7d44', light: '#3a7d4433' },
  { color: '#b8860b', light: '#b8860b33' }
]

const animals = ['Otter', 'Heron', 'Lynx', 'Marten', 'Puffin', 'Ibex', 'Gecko', 'Wren', 'Bison', 'Koala']

/**
 * The name and colours to show for this tab.
 * @param {URLSearchParams} params `?name=` overrides the random name (tests use it).
 * @param {() => number} random a [0, 1) source, Math.random by default.
 * @returns {{ name: string, color: string, colorLight: string }} the awareness `user` field that
 *   y-codemirror.next reads for remote cursors.
 */
export function pickUser (params, random = Math.random) {
  const { color, light } = palette[Math.floor(random() * palette.length)]
  const given = (params.get('name') ?? '').trim().slice(0, 32)
  const name = given || `${animals[Math.floor(random() * animals.length)]} ${Math.floor(random() * 90) + 10}`
  return { name, color, colorLight: light }
}

/** The same rule as the server's params schema for `/collab/:document`. */
export const documentNamePattern = /^[A-Za-z0-9_-]{1,64}$/

/**
 * The document this tab edits, from `?doc=`; `welcome` when absent or not a valid name.
 * @param {URLSearchParams} params
 * @returns {string}
 */
export function pickDocument (params) {
  const doc = params.get('doc') ?? ''
  return documentNamePattern.test(doc) ? doc : 'welcome'
}
