// Crashes under a stream of acknowledged updates, on every store: the server process killed with
// SIGKILL, and on PostgreSQL the database server itself restarted with `pg_ctl restart -m immediate`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import * as decoding from 'lib0/decoding'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { when, once } from '../helpers/wait.js'
import { stores } from '../helpers/stores.js'
import { NodeProcess, logLine } from '../helpers/child.js'
import { hpAuth, hpStep1, hpUpdate, readHp } from '../helpers/raw-client.js'

const fixture = fileURLToPath(new URL('../fixtures/store-server.js', import.meta.url))
const NAME = 'stream'
const TOTAL = 4000
const KILL_AFTER = 1500
const WINDOW = 200

// Hocuspocus message types: varString(name) varUint(type) payload (helpers/raw-client.js).
const SYNC = 0
const AUTH = 2
const SYNC_STATUS = 8

/** Resolves on the next frame from the server, or when the socket closes. */
function progress (socket) {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('frame', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('frame', done)
    socket.on('close', done)
  })
}

/**
 * Starts the fixture server on a store (a Backend's `config`); resolves with its process, its port
 * in `port`, and the JSON lines it logs (on stderr) in `logs()`.
 */
async function startServer (t, config) {
  const server = new NodeProcess(t, [fixture, JSON.stringify(config)], { name: 'the store server' })
  server.port = JSON.parse(await server.line(() => true, { what: 'its port' })).port
  server.logs = () => server.err.map(logLine)
  return server
}

/**
 * A raw Hocuspocus client that counts what the server sends: SyncStatus frames (applied = 1) and the
 * SyncStep2 that answers its SyncStep1.
 */
async function connect (t, port) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/collab`)
  t.after(() => socket.terminate())
  const client = { socket, acks: 0, rejected: 0, authenticated: false, syncStep2: null, events: socket }
  socket.on('error', () => {})
  socket.on('message', (data) => {
    const { name, type, d: decoder } = readHp(new Uint8Array(data))
    if (name !== NAME) return
    if (type === AUTH && decoding.readVarUint(decoder) === 2) client.authenticated = true
    if (type === SYNC && decoding.readVarUint(decoder) === 1) client.syncStep2 = decoding.readVarUint8Array(decoder)
    if (type === SYNC_STATUS) {
      if (decoding.readVarUint(decoder) === 1) client.acks++
      else client.rejected++
    }
    socket.emit('frame')
  })
  await once(socket, 'open')
  socket.send(hpAuth(NAME))
  socket.send(hpStep1(NAME))
  await when(socket, 'frame', { check: () => client.authenticated && client.syncStep2 !== null, what: 'Authenticated and SyncStep2' })
  return client
}

/** One Yjs update per item pushed: update k holds the number k, so what survived can be read off the array. */
function numberedUpdates () {
  const source = new Y.Doc()
  const updates = []
  source.on('update', (update) => updates.push(update))
  for (let k = 0; k < TOTAL; k++) source.getArray('items').push([k])
  return updates
}

/**
 * Streams `updates` with up to WINDOW unacknowledged, sent in bursts so that batches form on the server,
 * until they are all sent or the socket closes. `onFrame` runs on every frame from the server.
 */
function stream (client, updates, onFrame) {
  const state = { sent: 0 }
  client.events.on('frame', () => onFrame(state))
  ;(async () => {
    while (state.sent < TOTAL && client.socket.readyState === WebSocket.OPEN) {
      while (state.sent - client.acks < WINDOW && state.sent < TOTAL) client.socket.send(hpUpdate(NAME, updates[state.sent++]))
      await progress(client.socket)
    }
  })()
  return state
}

/** The items a fresh server process loads from the store. */
async function restoredItems (t, config) {
  const server = await startServer(t, config)
  const reader = await connect(t, server.port)
  const restored = new Y.Doc()
  Y.applyUpdate(restored, reader.syncStep2)
  await server.kill()
  return new Set(restored.getArray('items').toArray())
}

/** The first `count` items (0 … count-1) missing from `items`. */
function missing (items, count) {
  const absent = []
  for (let k = 0; k < count; k++) if (!items.has(k)) absent.push(k)
  return absent
}

for (const store of stores) {
  test(`${store.name}: SIGKILL mid-stream loses no update any client saw acknowledged`, { skip: store.skip, timeout: 60_000 }, async (t) => {
    const backend = await store.open(t)
    const first = await startServer(t, backend.config)
    const client = await connect(t, first.port)
    let killed = null
    stream(client, numberedUpdates(), ({ sent }) => {
      if (client.acks >= KILL_AFTER && killed === null) {
        first.child.kill('SIGKILL')
        killed = { acked: client.acks, sent }
      }
    })
    await when(client.events, 'frame', { check: () => killed !== null, timeout: 30_000, what: `${KILL_AFTER} acknowledgements` })
    const { acked, sent } = killed
    const { signal } = await first.exit()
    assert.equal(signal, 'SIGKILL')
    assert.equal(client.rejected, 0)
    assert.ok(sent > acked, `killed mid-stream: ${sent} sent, ${acked} acknowledged`)

    // The k-th SyncStatus acknowledges the k-th update: updates 0 … acked-1 must all be there.
    const items = await restoredItems(t, backend.config)
    assert.deepEqual(missing(items, acked), [], `every acknowledged update survived (${acked} acknowledged, ${items.size} stored)`)
    t.diagnostic(`${sent} sent, ${acked} acknowledged, ${items.size} restored after SIGKILL`)
  })
}

const postgresStore = stores.find((store) => store.kind === 'postgres')

test('postgres: `pg_ctl restart -m immediate` mid-stream: acknowledgements wait, every update is acknowledged and stored afterwards', { skip: postgresStore.skip, timeout: 90_000 }, async (t) => {
  const backend = await postgresStore.open(t)
  const config = { ...backend.config, retry: { initialDelay: 20, maxDelay: 250 } }
  const server = await startServer(t, config)
  const client = await connect(t, server.port)
  let restart = null
  const state = stream(client, numberedUpdates(), () => {
    if (client.acks >= KILL_AFTER && restart === null) {
      restart = { acked: client.acks, done: backend.server.restart({ mode: 'immediate' }) }
    }
  })
  await when(client.events, 'frame', { check: () => restart !== null, timeout: 30_000, what: `${KILL_AFTER} acknowledgements` })
  await restart.done
  await when(client.events, 'frame', { check: () => client.acks === TOTAL, timeout: 60_000, what: 'every acknowledgement after the restart' })
  assert.equal(client.rejected, 0, 'no update was refused: the store retried through the restart')
  assert.equal(state.sent, TOTAL)
  await server.kill()
  await server.exit()
  const failures = server.logs().filter((line) => line.err?.code === 'FST_COLLAB_STORAGE_APPEND')
  assert.ok(failures.length > 0, 'the failed appends were logged with a code')
  assert.ok(failures.every((line) => line.level === 50))

  const items = await restoredItems(t, backend.config)
  assert.deepEqual(missing(items, TOTAL), [], `every update is stored (${items.size} of ${TOTAL})`)
  const causes = [...new Set(failures.map((line) => line.causeCode ?? line.err.message.split(': ').at(-1)))]
  t.diagnostic(`restarted PostgreSQL after ${restart.acked} acknowledgements; all ${TOTAL} acknowledged and stored; ${failures.length} failed appends logged (${causes.join(', ')})`)
})
