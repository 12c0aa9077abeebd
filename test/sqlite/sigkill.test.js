import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { when } from '../helpers/wait.js'
import { tempDir } from './support.js'

const fixture = new URL('./fixtures/server.js', import.meta.url)
const NAME = 'stream'
const TOTAL = 4000
const KILL_AFTER = 1500
const WINDOW = 200

// Hocuspocus frames (see /work/shared/notes/anchors.md): varString(name) varUint(type) payload.
const SYNC = 0
const AUTH = 2
const SYNC_STATUS = 8

function hocuspocusFrame (type, write) {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, NAME)
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}
const tokenFrame = () => hocuspocusFrame(AUTH, (e) => { encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'token'); encoding.writeVarString(e, '4.8.0') })
const syncStep1Frame = (stateVector) => hocuspocusFrame(SYNC, (e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, stateVector) })
const updateFrame = (update) => hocuspocusFrame(SYNC, (e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, update) })

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

/** Starts the fixture server on `path`; resolves with its process and port. */
async function startServer (t, path) {
  const child = spawn(process.execPath, [fixture.pathname, path], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const [line] = await once(createInterface({ input: child.stdout }), 'line')
  return { child, port: JSON.parse(line).port }
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
    const decoder = decoding.createDecoder(new Uint8Array(data))
    if (decoding.readVarString(decoder) !== NAME) return
    const type = decoding.readVarUint(decoder)
    if (type === AUTH && decoding.readVarUint(decoder) === 2) client.authenticated = true
    if (type === SYNC && decoding.readVarUint(decoder) === 1) client.syncStep2 = decoding.readVarUint8Array(decoder)
    if (type === SYNC_STATUS) {
      if (decoding.readVarUint(decoder) === 1) client.acks++
      else client.rejected++
    }
    socket.emit('frame')
  })
  await once(socket, 'open')
  socket.send(tokenFrame())
  socket.send(syncStep1Frame(Y.encodeStateVector(new Y.Doc())))
  await when(socket, 'frame', { check: () => client.authenticated && client.syncStep2 !== null, what: 'Authenticated and SyncStep2' })
  return client
}

test('SIGKILL mid-stream loses no update any client saw acknowledged', { timeout: 30_000 }, async (t) => {
  const path = join(tempDir(t), 'collab.db')
  const first = await startServer(t, path)
  const client = await connect(t, first.port)

  // One Yjs update per item pushed: update k holds the number k, so what survived can be read off the array.
  const source = new Y.Doc()
  const updates = []
  source.on('update', (update) => updates.push(update))
  for (let k = 0; k < TOTAL; k++) source.getArray('items').push([k])

  // Stream with up to WINDOW updates unacknowledged, sent in bursts so that batches form on the server,
  // until the kill.
  let sent = 0
  const killed = new Promise((resolve) => {
    client.events.on('frame', () => {
      if (client.acks >= KILL_AFTER && first.child.signalCode === null && first.child.exitCode === null) {
        first.child.kill('SIGKILL')
        resolve({ acked: client.acks, sent })
      }
    })
  })
  const exited = once(first.child, 'exit')
  ;(async () => {
    while (sent < TOTAL && client.socket.readyState === WebSocket.OPEN) {
      while (sent - client.acks < WINDOW && sent < TOTAL) client.socket.send(updateFrame(updates[sent++]))
      await progress(client.socket)
    }
  })()
  const { acked, sent: sentAtKill } = await killed
  const [, signal] = await exited
  assert.equal(signal, 'SIGKILL')
  assert.equal(client.rejected, 0)
  assert.ok(sentAtKill > acked, `killed mid-stream: ${sentAtKill} sent, ${acked} acknowledged`)

  // The k-th SyncStatus acknowledges the k-th update: updates 0 … acked-1 must all be there.
  const second = await startServer(t, path)
  const reader = await connect(t, second.port)
  const restored = new Y.Doc()
  Y.applyUpdate(restored, reader.syncStep2)
  const items = new Set(restored.getArray('items').toArray())
  const missing = []
  for (let k = 0; k < acked; k++) if (!items.has(k)) missing.push(k)
  assert.deepEqual(missing, [], `every acknowledged update survived (${acked} acknowledged, ${items.size} stored)`)
  t.diagnostic(`${sentAtKill} sent, ${acked} acknowledged, ${items.size} restored after SIGKILL`)
})
