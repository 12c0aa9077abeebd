// The links between instances (lib/scale-out/link.ts): nothing dropped in silence. Past maxLinkBytes the
// sessions on the link are reset here once, what the reset itself queues is dropped rather than feeding
// another overflow, and the next message skips a sequence number, so the other instance sees the gap.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred } from '../helpers/wait.js'

const { Links } = await import('../../dist/lib/scale-out/link.js')
const { decodeEnvelope, Kind } = await import('../../dist/lib/scale-out/envelope.js')

const turn = () => new Promise(setImmediate)

function harness (maxBytes) {
  const published = []
  const broken = []
  const links = new Links('sender', maxBytes, (destination, message) => {
    const answer = deferred()
    published.push({ destination, envelope: decodeEnvelope(message), answer })
    return answer.promise
  }, {
    broken: (destination, reason) => {
      broken.push(reason)
      // What the scale-out does on a reset: end every session on the link, which queues more entries.
      for (let session = 1; session <= 50; session++) links.to(destination).add({ kind: Kind.End, session, mode: 0, code: 4205, reason: 'Reset Connection' })
    },
    pressure: () => {}
  })
  return { links, published, broken }
}

test('an overflow resets the link once, drops what the reset queues, and the next message shows a gap', async () => {
  const { links, published, broken } = harness(100)
  const receiver = new Links('receiver', 100, async () => 1, { broken () {}, pressure () {} })
  const link = links.to('receiver')
  link.send(1, new Uint8Array(40))
  await turn()
  assert.equal(published.length, 1)
  assert.equal(receiver.accept('sender', published[0].envelope.seq), true)

  // 40 bytes still in flight; 70 more pass the bound of 100.
  link.send(1, new Uint8Array(70))
  assert.deepEqual(broken, ['overflow'], 'one reset, although the reset itself queued 50 entries')
  link.send(2, new Uint8Array(10))
  await turn()
  assert.equal(published.length, 1, 'nothing goes out while the bytes in flight stay above a quarter of the bound')

  published[0].answer.resolve(1)
  await turn()
  await turn()
  assert.equal(published.length, 2, 'once they drain, a message carries the gap')
  const { seq, entries } = published[1].envelope
  assert.deepEqual(entries, [], 'every entry queued while overflowed was dropped')
  assert.equal(receiver.accept('sender', seq), false, 'the receiver sees the gap and resets its side')
  assert.deepEqual(broken, ['overflow'])
})

test('a message from an instance first heard from after its first one was lost, or after it was forgotten, is a gap', () => {
  const receiver = new Links('receiver', 100, async () => 1, { broken () {}, pressure () {} })
  assert.equal(receiver.accept('a', 1), true)
  assert.equal(receiver.accept('a', 2), true)
  assert.equal(receiver.accept('b', 3), false, 'messages 1 and 2 from b never came')
  receiver.forget('a')
  assert.equal(receiver.accept('a', 3), false, 'a was forgotten with its sessions: what it still sends is a gap')
})
