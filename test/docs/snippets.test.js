// Every js and ts code block of README.md, CONTRIBUTING.md and docs/ is either compiled against the
// package's types (the built dist/, through the package's own exports) with the type checker, or is
// marked as a verbatim copy of an example file that a test runs, or is one of the README's quick start
// blocks that test/docs/quick-start.test.js runs.
//
// The blocks are compiled in one program, each as a module of its own, from files that exist only in
// memory: `docs/errors.md` block 3 is `docs/errors.md.3.js`, beside the page, so that a relative import
// resolves as it reads. JavaScript blocks get `// @ts-check`: they are checked as an editor with
// checkJs checks them, save two diagnostics plain JavaScript cannot avoid (see JS_ALLOWED).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'
import { pages, root } from './markdown.js'

const CODE_LANGS = new Set(['js', 'ts'])

// Diagnostics that JavaScript blocks may have: a route's `request.params` and `request.query` are
// `unknown` without a type provider or a generic, neither of which plain JavaScript can give (TS18046),
// and parameters without a type are `any` (TS7006, TS7031 for a destructured one).
const JS_ALLOWED = new Set([18046, 7006, 7031])

// The quick start blocks test/docs/quick-start.test.js runs.
const QUICK_START = ['server', 'y-websocket', 'hocuspocus']

/** Every js and ts block, with where it comes from. */
function codeBlocks () {
  return pages().flatMap((doc) => doc.blocks.map((block, index) => ({ ...block, doc, index }))).filter((block) => CODE_LANGS.has(block.lang))
}

/**
 * Type-checks `sources` (absolute path → text) in one program with test/docs/tsconfig.json.
 * @returns {ts.Diagnostic[]} the diagnostics of those files, and the program's global ones.
 */
function typeCheck (sources) {
  const configPath = join(root, 'test/docs/tsconfig.json')
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile)
  assert.equal(error, undefined, 'test/docs/tsconfig.json reads')
  const { options, fileNames, errors } = ts.parseJsonConfigFileContent(config, ts.sys, dirname(configPath))
  assert.deepEqual(errors, [], 'test/docs/tsconfig.json parses')
  const host = ts.createCompilerHost(options)
  const { getSourceFile } = host
  host.fileExists = (name) => sources.has(name) || ts.sys.fileExists(name)
  host.readFile = (name) => sources.get(name) ?? ts.sys.readFile(name)
  host.getSourceFile = (name, language, ...rest) => sources.has(name)
    ? ts.createSourceFile(name, sources.get(name), language)
    : getSourceFile(name, language, ...rest)
  const program = ts.createProgram([...fileNames, ...sources.keys()], options, host)
  return [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...sources.keys()].flatMap((name) => {
      const file = program.getSourceFile(name)
      return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]
    })
  ]
}

test('every js and ts block is compiled, copied verbatim from an example, or run as the quick start', { timeout: 60_000 }, () => {
  const sources = new Map()
  const origins = new Map()
  const copied = []
  const quickStart = []
  for (const block of codeBlocks()) {
    const at = `${block.doc.path}:${block.line}`
    if (block.marker?.kind === 'copied from') {
      copied.push({ ...block, at })
      continue
    }
    if (block.marker?.kind === 'quick-start') {
      assert.equal(block.doc.path, 'README.md', `${at}: a quick start block is in the README`)
      quickStart.push(block.marker.value)
      continue
    }
    assert.equal(block.marker, null, `${at}: an unknown marker ${JSON.stringify(block.marker)}`)
    const name = join(root, `${block.doc.path}.${block.index}.${block.lang}`)
    // The prefix is one line, so that a diagnostic's line maps back onto the page.
    const prefix = block.lang === 'js' ? '// @ts-check\n' : '\n'
    sources.set(name, `${prefix}${block.code}\nexport {}\n`)
    origins.set(name, block)
  }
  assert.deepEqual(quickStart.sort(), [...QUICK_START].sort(), 'the README has the quick start blocks the quick start test runs')

  for (const { code, marker, at } of copied) {
    const file = readFileSync(join(root, marker.value), 'utf8')
    assert.ok(file.includes(code), `${at}: the block is not a verbatim copy of ${marker.value}`)
  }

  // A block that must fail proves that the check can: an option the plugin does not have.
  const canary = join(root, 'docs/canary.md.0.js')
  sources.set(canary, "// @ts-check\nimport fastifyCollab from 'fastify-collab'\nawait app.register(fastifyCollab, { debounceMs: 100 })\nexport {}\n")

  const diagnostics = typeCheck(sources)
  const reported = diagnostics.filter((diagnostic) => {
    const block = origins.get(diagnostic.file?.fileName)
    return !(block?.lang === 'js' && JS_ALLOWED.has(diagnostic.code))
  })
  const canaryErrors = reported.filter((diagnostic) => diagnostic.file?.fileName === canary)
  assert.ok(canaryErrors.some((diagnostic) => /debounceMs/.test(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))),
    'a misspelled option in a block is reported')
  const messages = reported.filter((diagnostic) => diagnostic.file?.fileName !== canary).map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const block = origins.get(diagnostic.file?.fileName)
    if (block === undefined || diagnostic.start === undefined) return `TS${diagnostic.code}: ${text}`
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
    return `${block.doc.path}:${block.line + line - 1}:${character + 1}: TS${diagnostic.code}: ${text}`
  })
  assert.deepEqual(messages, [], `the code blocks compile:\n${messages.join('\n')}`)
  assert.ok(origins.size > 30 && copied.length > 1, `blocks were compiled (${origins.size}) and copies checked (${copied.length})`)
})
