import { WebSocket } from 'ws'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { once } from './wait.js'

/**
 * A raw `ws` client that records every binary frame it receives, for tests
 * that speak the wire formats byte by byte.
 */
export async function rawClient (t, url) {
  const socket = new WebSocket(url)
  const frames = []
  const waiters = new Set()
  socket.on('message', data => {
    const frame = new Uint8Array(data)
    frames.push(frame)
    for (const waiter of waiters) waiter()
  })
  const closed = once(socket, 'close').then(([code, reason]) => ({ code, reason: reason.toString() }))
  t.after(() => socket.terminate())
  await once(socket, 'open')
  let seen = 0
  return {
    socket,
    frames,
    closed,
    send: frame => socket.send(frame),
    /** Resolves once `check()` holds: tried at once and again as each frame arrives; rejects after `timeout` ms. */
    until (check, { timeout = 3000, what = 'a condition on the frames' } = {}) {
      return new Promise((resolve, reject) => {
        const test = () => {
          if (!check()) return
          finish()
          resolve()
        }
        const timer = setTimeout(() => { finish(); reject(new Error(`timed out waiting for ${what}`)) }, timeout)
        const finish = () => { clearTimeout(timer); waiters.delete(test) }
        waiters.add(test)
        test()
      })
    },
    /** Resolves with the next frame (after those already returned) that passes `predicate`; rejects on close or after `timeout` ms. */
    next (predicate = () => true, { timeout = 3000, what = 'a frame' } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          while (seen < frames.length) {
            const frame = frames[seen++]
            if (predicate(frame)) {
              finish()
              resolve(frame)
              return
            }
          }
        }
        const timer = setTimeout(() => { finish(); reject(new Error(`timed out waiting for ${what}`)) }, timeout)
        const finish = () => { clearTimeout(timer); waiters.delete(check) }
        waiters.add(check)
        check()
      })
    }
  }
}

export function frame (write) {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** A Hocuspocus frame: `varString(name) varUint(type)` then `write`. */
export function hp (name, type, write = () => {}) {
  return frame(e => { encoding.writeVarString(e, name); encoding.writeVarUint(e, type); write(e) })
}

/** Hocuspocus Auth Token frame, as a v4 provider sends it. */
export const hpAuth = (name, token = 'token') => hp(name, 2, e => { encoding.writeVarUint(e, 0); encoding.writeVarString(e, token); encoding.writeVarString(e, '4.8.0') })

/** Decodes a Hocuspocus server frame's head. */
export function readHp (bytes) {
  const d = decoding.createDecoder(bytes)
  const name = decoding.readVarString(d)
  const type = decoding.readVarUint(d)
  return { name, type, d }
}

/** Predicate: a Hocuspocus frame for `name` of `type` (and sub-type, for Sync and Auth). */
export const isHp = (name, type, sub) => bytes => {
  try {
    const { name: n, type: ty, d } = readHp(bytes)
    if (n !== name || ty !== type) return false
    return sub === undefined || decoding.readVarUint(d) === sub
  } catch {
    return false
  }
}

/** y-websocket SyncStep1 with `doc`'s state vector (empty by default). */
export const ywsStep1 = (doc = new Y.Doc()) => frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, Y.encodeStateVector(doc)) })
/** y-websocket Update (`00 02`) or, with `subType` 1, SyncStep2. */
export const ywsUpdate = (update, subType = 2) => frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, subType); encoding.writeVarUint8Array(e, update) })
/** y-websocket Awareness (`01`). */
export const ywsAwareness = update => frame(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) })
/** Hocuspocus Update for `name` or, with `subType` 1, SyncStep2. */
export const hpUpdate = (name, update, subType = 2) => hp(name, 0, e => { encoding.writeVarUint(e, subType); encoding.writeVarUint8Array(e, update) })
/** Hocuspocus SyncStep1 for `name`. */
export const hpStep1 = (name, doc = new Y.Doc()) => hp(name, 0, e => { encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, Y.encodeStateVector(doc)) })
/** Hocuspocus Awareness for `name`. */
export const hpAwareness = (name, update) => hp(name, 1, e => encoding.writeVarUint8Array(e, update))

/** An awareness update (y-protocols layout) for `[clientID, clock, json]` entries; `json` is sent as is. */
export const awarenessUpdate = entries => frame(e => {
  encoding.writeVarUint(e, entries.length)
  for (const [client, clock, json] of entries) {
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, json)
  }
})

/** A Yjs update inserting `text` into `Y.Text` 'text' of a fresh doc (or `doc`). */
export function textUpdate (text, doc = new Y.Doc()) {
  const before = Y.encodeStateVector(doc)
  doc.getText('text').insert(doc.getText('text').length, text)
  return Y.encodeStateAsUpdate(doc, before)
}

/** The value of a Hocuspocus SyncStatus frame: 1 applied, 0 refused. */
export function syncStatusOf (bytes) {
  return decoding.readVarInt(readHp(bytes).d)
}

/** The reason of a Hocuspocus PermissionDenied frame. */
export function deniedReason (bytes) {
  const { d } = readHp(bytes)
  decoding.readVarUint(d)
  return decoding.readVarString(d)
}
