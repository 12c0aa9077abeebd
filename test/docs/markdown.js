// What the documentation tests read of the Markdown files: their code blocks (with the HTML comment
// that marks some of them), their links, their headings' anchors and their prose. A line-based reader
// is enough: the pages use fenced blocks at the start of a line and no indented code.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root folder. */
export const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The documentation pages: README.md, CONTRIBUTING.md and every page under docs/.
 * @returns {Page[]}
 */
export function pages () {
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => join('docs', name))
  return ['README.md', 'CONTRIBUTING.md', ...docs].map((path) => parse(path, readFileSync(join(root, path), 'utf8')))
}

/** The page at `path` (relative to the root), e.g. `docs/errors.md`. */
export function page (path) {
  return parse(path, readFileSync(join(root, path), 'utf8'))
}

/**
 * @typedef {object} Block a fenced code block
 * @property {string} lang the info string (`js`, `ts`, `sh`, …)
 * @property {string} code its text, without the fences, ending without a newline
 * @property {number} line the 1-based line of its first code line in the page
 * @property {{ kind: string, value: string } | null} marker the `<!-- kind: value -->` or
 *   `<!-- copied from value -->` comment on the last non-empty line before the fence
 *
 * @typedef {object} Page
 * @property {string} path relative to the root
 * @property {string} text the whole page
 * @property {Block[]} blocks
 * @property {string} prose the page without its code blocks (each code line left empty, so that line numbers hold)
 * @property {Set<string>} anchors the anchors of its headings, as GitHub makes them
 */

const MARKER = /^<!--\s*(?:(copied from)\s+(\S+)|([\w-]+):\s*(\S+))\s*-->$/

/**
 * @param {string} path
 * @param {string} text
 * @returns {Page}
 */
function parse (path, text) {
  const lines = text.split('\n')
  const blocks = []
  const prose = []
  const anchors = new Set()
  const seen = new Map()
  let open = null
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (open !== null) {
      if (line.startsWith('```')) {
        blocks.push({ ...open, code: open.code.join('\n') })
        open = null
      } else {
        open.code.push(line)
      }
      prose.push('')
      continue
    }
    if (line.startsWith('```')) {
      open = { lang: line.slice(3).trim(), code: [], line: i + 2, marker: markerBefore(lines, i) }
      prose.push('')
      continue
    }
    prose.push(line)
    const heading = /^#{1,6}\s+(.*)$/.exec(line)
    if (heading !== null) {
      const slug = slugOf(heading[1])
      const count = seen.get(slug) ?? 0
      seen.set(slug, count + 1)
      anchors.add(count === 0 ? slug : `${slug}-${count}`)
    }
  }
  if (open !== null) throw new Error(`${path}:${open.line - 1}: a code block is not closed`)
  return { path, text, blocks, prose: prose.join('\n'), anchors }
}

function markerBefore (lines, fence) {
  let i = fence - 1
  while (i >= 0 && lines[i].trim() === '') i--
  const match = i >= 0 ? MARKER.exec(lines[i].trim()) : null
  if (match === null) return null
  return match[1] !== undefined ? { kind: match[1], value: match[2] } : { kind: match[3], value: match[4] }
}

/**
 * GitHub's anchor for a heading: lower case, without the characters that are not letters, digits,
 * spaces, `-` or `_`, spaces turned into `-`.
 * @param {string} heading
 * @returns {string}
 */
export function slugOf (heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/**
 * Where `line` of the page is, for a message: `docs/errors.md:12`.
 * @param {Page} page
 * @param {number} index a character offset in `page.text` or `page.prose`
 * @returns {string}
 */
export function where (page, index) {
  return `${page.path}:${page.text.slice(0, index).split('\n').length}`
}
