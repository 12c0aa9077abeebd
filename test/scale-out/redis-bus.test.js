import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createClient } from 'redis'
import { captureLog } from '../helpers/log.js'
import { missing, redisServer } from '../helpers/needs.js'
import { startRedis } from '../helpers/redis.js'
import { deferred, waitFor } from '../helpers/wait.js'

const { RedisBus } = await import('../../dist/lib/scale-out/redis.js')
const skip = missing(redisServer)

const options = { prefix: 'test', leaseMs: 2000, heartbeatInterval: 100, heartbeatTimeout: 400 }

async function bus (t, redis, id, handlers = {}) {
  const { log, lines } = captureLog({ level: 'debug' })
  const source = createClient({ url: redis.url })
  const instance = new RedisBus(source, options, id, log, { message () {}, doubt () {}, ...handlers })
  await instance.start()
  t.after(() => instance.close(1000))
  return { bus: instance, lines }
}

test('claims: the first instance takes the lease under its token, a live holder keeps it, one that left loses it; Redis holds no epoch', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  const { bus: b } = await bus(t, redis, 'b')
  assert.deepEqual(await a.claim('doc', '1'), { owner: 'a', token: '1' })
  assert.deepEqual(await b.claim('doc', '1'), { owner: 'a', token: '1' })
  assert.equal(await b.ownerOf('doc'), 'a')
  // a dies without a word: its heartbeat lapses, then b takes over.
  await a.close(1000)
  assert.deepEqual(await b.claim('doc', '2'), { owner: 'b', token: '2' })
  assert.equal(await b.ownerOf('doc'), 'b')
  const raw = await redis.client(t)
  assert.deepEqual((await raw.keys('test:*')).sort(), ['test:instances', 'test:lease:doc'], 'no epoch counter: the store issues epochs')
})

test('renew keeps this claim\'s leases and reports the others: taken by another instance, by a later claim, or gone; it never sets a lease again', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  const raw = await redis.client(t)
  await a.claim('one', '1')
  await a.claim('two', '2')
  await a.claim('three', '3')
  await a.claim('four', '4')
  await raw.set('test:lease:two', 'z 9')
  await raw.del('test:lease:three')
  await a.claim('four', '5')
  assert.deepEqual(await a.renew([['one', '1'], ['two', '2'], ['three', '3'], ['four', '4']]), ['two', 'three', 'four'])
  assert.equal(await raw.get('test:lease:one'), 'a 1')
  assert.equal(await raw.get('test:lease:three'), null, 'a lapsed lease stays lapsed')
  assert.equal(await raw.get('test:lease:four'), 'a 5', 'an earlier claim does not renew a later one')
  await a.release('one', '2')
  assert.equal(await raw.get('test:lease:one'), 'a 1', 'a release under another token changes nothing')
  await a.release('one', '1')
  assert.equal(await raw.get('test:lease:one'), null)
})

test('the heartbeat keeps an instance alive while it is subscribed; close removes it at once', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  const { bus: b } = await bus(t, redis, 'b')
  assert.deepEqual(await a.liveness(['a', 'b', 'nobody']), ['alive', 'alive', 'gone'])
  await b.close(1000)
  assert.deepEqual(await a.liveness(['b']), ['gone'])
})

test('publish reaches the instance\'s channel; a publish to nobody counts 0', { skip }, async (t) => {
  const redis = await startRedis(t)
  const received = deferred('the message at instance b')
  const { bus: a } = await bus(t, redis, 'a')
  await bus(t, redis, 'b', { message: (message) => received.resolve(message) })
  assert.equal(await a.publish('b', Uint8Array.of(1, 2, 3)), 1)
  assert.deepEqual([...await received.wait()], [1, 2, 3])
  assert.equal(await a.publish('gone', Uint8Array.of(1)), 0)
})

test('a subscriber killed by Redis is a doubt; the subscription comes back', { skip }, async (t) => {
  const redis = await startRedis(t)
  const doubts = []
  const messages = []
  const { bus: a } = await bus(t, redis, 'a')
  await bus(t, redis, 'b', { doubt: (reason) => doubts.push(reason), message: (m) => messages.push(m) })
  const raw = await redis.client(t)
  await raw.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
  await waitFor(() => doubts.length > 0, { what: 'a doubt after the subscriber was killed' })
  await waitFor(async () => await a.publish('b', Uint8Array.of(7)) === 1, { what: 'the subscription to come back' })
  await waitFor(() => messages.length > 0, { what: 'a message after the reconnect' })
})

test('Redis restarted empty: renew reports every lease lost (never re-takes one), the subscriber is doubted, and another instance may claim', { skip }, async (t) => {
  const redis = await startRedis(t)
  const doubts = []
  const { bus: a } = await bus(t, redis, 'a', { doubt: (reason) => doubts.push(reason) })
  const { bus: b } = await bus(t, redis, 'b')
  await a.claim('doc', '1')
  await a.claim('other', '2')
  await redis.kill()
  await redis.start()
  await waitFor(() => doubts.length > 0, { timeout: 10_000, what: 'a doubt after Redis restarted' })
  let lost
  await waitFor(async () => (lost = await a.renew([['doc', '1'], ['other', '2']]).catch(() => null)) !== null, { timeout: 10_000, what: 'renew to answer' })
  assert.deepEqual(lost, ['doc', 'other'])
  // Both heartbeats are back once both command connections reconnected.
  await waitFor(async () => (await b.liveness(['a', 'b']).catch(() => ['gone'])).every((state) => state === 'alive'), { timeout: 10_000, what: 'both heartbeats' })
  assert.deepEqual(await b.claim('doc', '1'), { owner: 'b', token: '1' }, 'the lease is free: whoever claims first owns it (the store\'s epoch fences the other)')
})

test('a publish after close rejects instead of throwing: a session ending as the instance stops is no crash', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  await a.close(1000)
  await assert.rejects(a.publish('b', Uint8Array.of(1)))
})
