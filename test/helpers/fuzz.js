import fc from 'fast-check'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import * as encoding from 'lib0/encoding'
import { frame, hp, hpAuth, ywsStep1, ywsUpdate, ywsAwareness, hpUpdate, hpStep1, hpAwareness, awarenessUpdate } from './raw-client.js'
import { once, when } from './wait.js'

// Property-based fuzzing of a running collab server (issue 7 §6): random and
// mutated frames of both wire formats, on authenticated and unauthenticated
// sockets. Shared by test/collab/fuzz.test.js (bounded, seeded) and
// bench/fuzz.js (the long run).

/** Real Yjs updates of every kind, and some that cannot integrate, to start mutations from. */
function realUpdates () {
  const updates = []
  const doc = new Y.Doc()
  doc.on('update', update => updates.push(update))
  const text = doc.getText('text')
  text.insert(0, 'hello world')
  text.format(0, 5, { bold: true })
  text.delete(2, 3)
  doc.getMap('map').set('key', { nested: [1, 2, 3] })
  doc.getArray('array').insert(0, [new Uint8Array([1, 2]), 'x', 42])
  doc.getXmlFragment('xml').insert(0, [new Y.XmlElement('p')])
  updates.push(Y.encodeStateAsUpdate(doc), Y.mergeUpdates(updates.slice(1, 4)))
  return updates
}

const UPDATES = realUpdates()
const NAMES = ['fuzz', 'fuzz', 'fuzz', 'other', '', 'x'.repeat(300), 'fuzz\0session', 'ünï']

const bytes = fc.uint8Array({ maxLength: 48 })
const name = fc.constantFrom(...NAMES)
const update = fc.oneof({ arbitrary: fc.constantFrom(...UPDATES), weight: 4 }, { arbitrary: bytes, weight: 1 })
const json = fc.oneof(
  { arbitrary: fc.json({ maxDepth: 3 }), weight: 4 },
  fc.constantFrom('null', '{', '[[[[[[[[', '"\\ud800"', '1e400', '{"__proto__":{"x":1}}', '['.repeat(70) + ']'.repeat(70))
)
const awareness = fc.array(fc.tuple(fc.nat({ max: 2 ** 31 }), fc.nat({ max: 1000 }), json), { maxLength: 4 }).map(awarenessUpdate)

const ywsFrame = fc.oneof(
  bytes.map(stateVector => frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, stateVector) })),
  fc.tuple(update, fc.constantFrom(1, 2)).map(([u, sub]) => ywsUpdate(u, sub)),
  awareness.map(ywsAwareness),
  fc.constant(Uint8Array.of(3)),
  fc.constant(Uint8Array.of(3)),
  bytes
)

const hpFrame = fc.oneof(
  name.map(n => hpAuth(n)),
  name.map(n => hpStep1(n)),
  fc.tuple(name, update, fc.constantFrom(1, 2)).map(([n, u, sub]) => hpUpdate(n, u, sub)),
  fc.tuple(name, awareness).map(([n, a]) => hpAwareness(n, a)),
  fc.tuple(name, fc.nat({ max: 12 }), bytes).map(([n, type, payload]) => hp(n, type, e => encoding.writeUint8Array(e, payload))),
  fc.constantFrom(Uint8Array.of(9), Uint8Array.of(10)),
  bytes
)

/** Flips, inserts, deletes or cuts bytes of a frame. */
function mutated (frames) {
  const edit = fc.tuple(fc.constantFrom('flip', 'insert', 'delete', 'cut'), fc.nat(), fc.integer({ min: 0, max: 255 }))
  return fc.tuple(frames, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([original, edits]) => {
    let bytes = [...original]
    for (const [kind, at, value] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length
      if (kind === 'flip') bytes[i] ^= value
      else if (kind === 'insert') bytes.splice(i, 0, value)
      else if (kind === 'delete') bytes.splice(i, 1)
      else bytes = bytes.slice(0, i)
    }
    return Uint8Array.from(bytes)
  })
}

/**
 * One fuzz session: a protocol, whether it first authenticates properly on
 * the shared document `fuzz`, and the frames it then sends.
 */
export const fuzzSession = fc.oneof(
  fc.record({
    protocol: fc.constant('y-websocket'),
    authenticated: fc.boolean(),
    frames: fc.array(fc.oneof({ arbitrary: ywsFrame, weight: 6 }, { arbitrary: mutated(ywsFrame), weight: 1 }), { minLength: 1, maxLength: 12 })
  }),
  fc.record({
    protocol: fc.constant('hocuspocus'),
    authenticated: fc.boolean(),
    bound: fc.boolean(),
    frames: fc.array(fc.oneof({ arbitrary: hpFrame, weight: 6 }, { arbitrary: mutated(hpFrame), weight: 1 }), { minLength: 1, maxLength: 12 })
  })
)

/**
 * Plays one session against `base` (`ws://host:port/collab`), then waits until
 * the server has read everything (its pong to a ping after the frames) or
 * closed the socket, and closes it.
 *
 * @returns {Promise<{ closed: number | null }>} the close code the server sent, if it closed the socket.
 * @rejects when the server neither answers the ping nor closes within `timeout` ms: it is stuck.
 */
export async function playSession (base, session, { timeout = 5000 } = {}) {
  const url = session.protocol === 'y-websocket' || session.bound ? `${base}/fuzz` : base
  const socket = new WebSocket(url)
  socket.on('error', () => {})
  let closed = null
  socket.on('close', code => { closed = code })
  await once(socket, 'open')
  if (session.authenticated) socket.send(session.protocol === 'y-websocket' ? ywsStep1() : hpAuth('fuzz'))
  for (const bytes of session.frames) socket.send(bytes)
  socket.ping()
  await when(socket, ['pong', 'close'], { timeout, what: 'a pong or a close (the server is stuck)' })
  const result = { closed }
  socket.terminate()
  if (socket.readyState !== WebSocket.CLOSED) await once(socket, 'close')
  return result
}
