// The suite cleans up after itself: what its helpers start inside a test (redis-server, PostgreSQL, Node
// children, Chromium, folders under TMPDIR) is gone once the test's after hooks have run, and also when
// the runner ends a file with SIGTERM, which runs no after hook.
//
// The runner runs two files at once, so nothing here counts every redis-server or postgres on the
// machine: only the processes the test process started, at any depth, and those whose command line
// names one of its folders (PostgreSQL's server is a daemon, a child of init); and only the folders
// named for the test process (helpers/cleanup.js).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { launch, open } from '../helpers/chromium.js'
import { NodeProcess } from '../helpers/child.js'
import { startCluster } from '../helpers/cluster.js'
import { tempDir, tempNameOf } from '../helpers/cleanup.js'
import { startExampleServer } from '../helpers/example-server.js'
import { chromiumBrowser, missing, postgresServer, processTable, redisServer } from '../helpers/needs.js'
import { startSentinel } from '../helpers/redis.js'
import { waitFor, when } from '../helpers/wait.js'

/** Every running process: its parent, its start time (which tells a reused pid apart), its command line. */
function processes () {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // The command name, in parentheses, may hold spaces: the fields start after its last ')'.
      const [state, ppid, ...rest] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z') return [] // ended, waiting for its parent to read its status
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
      return [{ pid: Number(name), ppid: Number(ppid), start: rest[17], cmdline }]
    } catch {
      return [] // ended while being read
    }
  })
}

/** What process `pid` started: its descendants, and the processes naming its folders, with theirs. */
function startedBy (pid) {
  const table = processes()
  const family = table.filter((p) => p.ppid === pid || p.cmdline.includes(tempNameOf(pid)))
  for (let i = 0; i < family.length; i++) {
    for (const p of table) if (p.ppid === family[i].pid && !family.includes(p)) family.push(p)
  }
  return family
}

/** Those of `started` still running after a few seconds: none has an event to wait for. */
async function survivors (started) {
  const running = () => {
    const table = processes()
    return started.filter((p) => table.some((q) => q.pid === p.pid && q.start === p.start))
  }
  await waitFor(() => running().length === 0, { timeout: 10_000, what: 'every process to end' }).catch(() => {})
  return running().map((p) => `${p.pid} ${p.cmdline}`)
}

/** The folders under TMPDIR named for process `pid`. */
const foldersOf = (pid) => readdirSync(tmpdir()).filter((name) => name.startsWith(tempNameOf(pid)))

/** Fails unless `started` holds each kind of process the helpers start, so that an empty check means something. */
function assertSeen (started, kinds) {
  for (const [kind, pattern] of Object.entries(kinds)) {
    assert.ok(started.some((p) => pattern.test(p.cmdline)), `${kind} among the processes started: ${started.map((p) => p.cmdline).join('\n')}`)
  }
}

const needs = missing(processTable, redisServer, postgresServer, chromiumBrowser)

test('after a test\'s after hooks, nothing it started runs and none of its folders is left', { skip: needs, timeout: 90_000 }, async (t) => {
  const before = foldersOf(process.pid)
  let started = []
  await t.test('a test that starts what the helpers start', async (t) => {
    const cluster = await startCluster(t, { count: 2, store: 'postgres' })
    await startSentinel(t, cluster.redis)
    const server = await startExampleServer(t, tempDir(t, 'data'))
    const context = await launch(t)
    await open(context, `${server.httpUrl}/?doc=cleanup`)
    started = startedBy(process.pid)
    assertSeen(started, {
      'redis-server': /^redis-server /,
      'the sentinel': /\[sentinel\]$/,
      PostgreSQL: /postgres -D /,
      'the cluster instances': /cluster-server\.js$/,
      'the example server': /examples\/server\.js$/,
      Chromium: /--user-data-dir=/
    })
    assert.ok(foldersOf(process.pid).length > before.length, 'the folders are named for this process')
  })
  assert.deepEqual(await survivors(started), [], 'every process the test started has ended')
  assert.deepEqual(foldersOf(process.pid), before, 'every folder the test made is gone')
})

test('a test file ended by SIGTERM (the runner\'s --test-timeout) leaves nothing behind either', { skip: needs, timeout: 90_000 }, async (t) => {
  const script = fileURLToPath(new URL('../fixtures/killed-midway.js', import.meta.url))
  const file = new NodeProcess(t, [script], { name: 'the test file killed midway', ipc: true })
  await when(file.child, 'message', { predicate: (message) => message === 'started', timeout: 60_000, what: 'the file to start everything' })
  const started = startedBy(file.child.pid)
  assertSeen(started, { 'redis-server': /^redis-server /, PostgreSQL: /postgres -D /, 'the cluster instance': /cluster-server\.js$/, Chromium: /--user-data-dir=/ })
  assert.ok(foldersOf(file.child.pid).length > 0, 'the folders are named for the file\'s process')

  await file.kill('SIGTERM')
  const { signal } = await file.exit()
  assert.equal(signal, null, 'it exited on SIGTERM, after its cleanup, rather than being ended by the signal')
  assert.deepEqual(await survivors(started), [], 'every process the file started has ended')
  assert.deepEqual(foldersOf(file.child.pid), [], 'every folder the file made is gone')
})
