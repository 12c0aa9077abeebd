// The README's collaboration quick start, run as a reader would run it: the server block, then the
// y-websocket client and the Hocuspocus client blocks, each a Node process of its own started from the
// repository's root (so that `fastify-collab` resolves to this package, and `ws`, `yjs` and the providers
// to its node_modules). Only where it listens and where it keeps its file change: port 3000 becomes a
// free port, ./data a temporary folder.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { NodeProcess, logLine } from '../helpers/child.js'
import { tempDir } from '../helpers/cleanup.js'
import { page, root } from './markdown.js'

/** The README's block marked `<!-- quick-start: name -->`. */
function quickStart (name) {
  const block = page('README.md').blocks.find(({ marker }) => marker?.kind === 'quick-start' && marker.value === name)
  assert.ok(block !== undefined, `README.md has the quick start block "${name}"`)
  return block.code
}

/** `code` with `from` replaced by `to`, which must be there: a README that changes fails here, not silently. */
function replaced (code, from, to) {
  assert.ok(code.includes(from), `the quick start block has ${from}`)
  return code.replaceAll(from, to)
}

/** `node --input-type=module --eval <code>` in the repository's root. */
function run (t, name, code) {
  return new NodeProcess(t, ['--input-type=module', '--eval', code], { name, cwd: root })
}

test('README quick start: the server, then a WebsocketProvider and a HocuspocusProvider on the URLs it gives, edit one document', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t, 'quick-start')
  let server = replaced(quickStart('server'), "'./data/collab.sqlite'", JSON.stringify(join(data, 'collab.sqlite')))
  server = replaced(server, '{ port: 3000 }', "{ port: 0, host: '127.0.0.1' }")
  const serverProcess = run(t, 'the quick start server', server)
  const listening = logLine(await serverProcess.line((line) => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(logLine(line).msg ?? ''), { what: 'the server to listen' }))
  const url = `ws://127.0.0.1:${new URL(/http:\/\/\S+/.exec(listening.msg)[0]).port}`

  const hocuspocus = run(t, 'the Hocuspocus client', replaced(quickStart('hocuspocus'), 'ws://localhost:3000', url))
  await hocuspocus.line((line) => line.startsWith('synced'), { what: 'the HocuspocusProvider to sync' })
  run(t, 'the y-websocket client', replaced(quickStart('y-websocket'), 'ws://localhost:3000', url))
  await hocuspocus.line((line) => line === 'Hello from y-websocket. ', { what: 'the Hocuspocus client to see the y-websocket client\'s text' })

  const changed = logLine(await serverProcess.line((line) => logLine(line).msg === 'changed', { what: 'onChange to log the change' }))
  assert.equal(changed.documentName, 'my-doc', 'both URLs name the document my-doc')
  assert.equal(changed.user, 'anonymous', 'the context of the y-websocket client, which sends no token')
})
