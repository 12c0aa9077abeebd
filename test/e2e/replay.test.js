import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { replay } from '../../examples/replay.js'
import { textField } from '../../examples/app.js'
import { loadTrace } from '../helpers/traces.js'
import { NodeProcess } from '../helpers/child.js'
import { when } from '../helpers/wait.js'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'

const replayPath = fileURLToPath(new URL('../../examples/replay.js', import.meta.url))

// `npm run replay -- …` is `node examples/replay.js …`.
async function runReplayCommand (t, args) {
  const command = new NodeProcess(t, [replayPath, ...args], { name: 'the replay command' })
  const { code } = await command.exit({ timeout: 60_000 })
  return { code, stdout: command.out.join('\n'), stderr: command.err.join('\n') }
}

async function readThroughServer (t, wsUrl, documentName) {
  const provider = new HocuspocusProvider({
    url: `${wsUrl}/collab/${documentName}?token=demo`,
    name: documentName,
    document: new Y.Doc(),
    WebSocketPolyfill: WebSocket
  })
  t.after(() => provider.destroy())
  await when(provider, 'synced', { check: () => provider.isSynced, timeout: 10_000, what: `${documentName} to sync` })
  const text = provider.document.getText(textField).toString()
  provider.destroy()
  return text
}

// SIGTERM (stores everything), a new server on the same DATA_DIR, and a fresh client's text.
async function afterRestart (t, server, dataDir, documentName) {
  assert.equal(await server.stop(), 0, 'SIGTERM stores everything and exits with 0')
  const second = await startExampleServer(t, dataDir)
  const text = await readThroughServer(t, second.wsUrl, documentName)
  assert.equal(await second.stop(), 0)
  return text
}

test('the replay command types sveltecomponent, and a restarted server reloads endContent from SQLite', async (t) => {
  const dataDir = tempDir(t, 'data')
  const server = await startExampleServer(t, dataDir)
  // As a person runs it: sequential trace, one typist and one watcher.
  const svelte = loadTrace('sveltecomponent')
  const command = await runReplayCommand(t, ['sveltecomponent', '--clients', '2', '--url', server.wsUrl, '--doc', 'svelte'])
  assert.equal(command.code, 0, command.stderr)
  assert.match(command.stderr, new RegExp(`\\] ${svelte.txns.length}/${svelte.txns.length} acknowledged`), 'the progress bar reaches the end')
  assert.match(command.stdout, /^updates\/s: +\d+ /m)
  assert.match(command.stdout, new RegExp(`^acknowledged: +p50 \\d+\\.\\d ms, p99 \\d+\\.\\d ms .*\\(${svelte.txns.length} updates\\)$`, 'm'))
  assert.match(command.stdout, /^bytes stored: +[1-9]\d* /m)
  assert.match(command.stdout, /^reload \(disk\): +\d+\.\d ms /m)
  assert.equal(await afterRestart(t, server, dataDir, 'svelte'), svelte.endContent)
})

test('three concurrent typists replay three-writers, and a restarted server reloads endContent from SQLite', async (t) => {
  const dataDir = tempDir(t, 'data')
  const server = await startExampleServer(t, dataDir)
  // Three typists, each on top of the state named by `parents`, and one watcher; the trace
  // ends with a three-way tie that endContent orders by agent.
  const three = loadTrace('three-writers')
  assert.equal(three.numAgents, 3)
  const result = await replay({ trace: three, url: server.wsUrl, documentName: 'three', clients: 4 })
  assert.equal(result.writers, 3)
  assert.equal(result.clients, 4)
  assert.equal(result.transactions, three.txns.length)
  assert.equal(result.acknowledgements, three.txns.length, 'one SyncStatus per update frame')
  assert.ok(result.ackP50Ms > 0 && result.ackP99Ms >= result.ackP50Ms, `p50 ${result.ackP50Ms} ms, p99 ${result.ackP99Ms} ms`)
  assert.ok(result.bytesStored > 0)
  assert.equal(await afterRestart(t, server, dataDir, 'three'), three.endContent)
})

test('the replay command explains its usage and rejects a bad --clients', async (t) => {
  const none = await runReplayCommand(t, [])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /^usage: npm run replay -- <trace>/)
  const bad = await runReplayCommand(t, ['sveltecomponent', '--clients', 'zero'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--clients must be a positive integer/)
})
