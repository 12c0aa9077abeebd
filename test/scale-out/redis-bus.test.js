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

test('claims: the first instance gets epoch 1, a live holder keeps the lease, one that left loses it', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  const { bus: b } = await bus(t, redis, 'b')
  assert.deepEqual(await a.claim('doc'), { owner: 'a', epoch: 1 })
  assert.deepEqual(await b.claim('doc'), { owner: 'a', epoch: 1 })
  assert.equal(await b.ownerOf('doc'), 'a')
  // a dies without a word: its heartbeat lapses, then b takes over with a higher epoch.
  await a.close(1000)
  assert.deepEqual(await b.claim('doc'), { owner: 'b', epoch: 2 })
  assert.equal(await b.ownerOf('doc'), 'b')
})

test('renew keeps this instance\'s leases, reports those another holds, and re-takes expired ones', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  const raw = await redis.client(t)
  await a.claim('one')
  await a.claim('two')
  await raw.set('test:lease:two', 'z 9')
  await raw.del('test:lease:three')
  assert.deepEqual(await a.renew([['one', 1], ['two', 2], ['three', 7]]), ['two'])
  assert.equal(await raw.get('test:lease:one'), 'a 1')
  assert.equal(await raw.get('test:lease:three'), 'a 7')
  // The counter is raised to the highest epoch renewed.
  assert.equal(await raw.get('test:epoch'), '7')
  await a.release('one', 2)
  assert.equal(await raw.get('test:lease:one'), 'a 1', 'a release under another epoch changes nothing')
  await a.release('one', 1)
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

test('Redis restarted empty: the leases are re-taken by renew, the epoch counter raised, the subscriber doubted', { skip }, async (t) => {
  const redis = await startRedis(t)
  const doubts = []
  const { bus: a } = await bus(t, redis, 'a', { doubt: (reason) => doubts.push(reason) })
  const { bus: b } = await bus(t, redis, 'b')
  await a.claim('doc')
  await a.claim('other')
  await redis.kill()
  await redis.start()
  await waitFor(() => doubts.length > 0, { timeout: 10_000, what: 'a doubt after Redis restarted' })
  await waitFor(async () => (await a.renew([['doc', 1], ['other', 2]]).catch(() => ['error'])).length === 0, { timeout: 10_000, what: 'renew to succeed' })
  // Both heartbeats are back once both command connections reconnected.
  await waitFor(async () => (await b.liveness(['a', 'b']).catch(() => ['gone'])).every((state) => state === 'alive'), { timeout: 10_000, what: 'both heartbeats' })
  assert.deepEqual(await b.claim('doc'), { owner: 'a', epoch: 1 })
  assert.deepEqual(await b.claim('new'), { owner: 'b', epoch: 3 }, 'the counter continues above the epochs renewed')
})

test('a publish after close rejects instead of throwing: a session ending as the instance stops is no crash', { skip }, async (t) => {
  const redis = await startRedis(t)
  const { bus: a } = await bus(t, redis, 'a')
  await a.close(1000)
  await assert.rejects(a.publish('b', Uint8Array.of(1)))
})
