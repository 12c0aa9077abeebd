// The ownership state machine (lib/scale-out/ownership.ts) against a real Redis and a real fenced store:
// an earlier claim's late answers (a refused write, an unload) never touch a later claim of the same
// document, and a tenure that passed is never served.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { createClient } from 'redis'
import { sqlite } from 'fastify-collab/sqlite'
import { captureLog } from '../helpers/log.js'
import { tempDir } from '../helpers/cleanup.js'
import { missing, redisServer } from '../helpers/needs.js'
import { startRedis } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

const { RedisBus } = await import('../../dist/lib/scale-out/redis.js')
const { Ownership } = await import('../../dist/lib/scale-out/ownership.js')
const skip = missing(redisServer)

async function ownership (t, { leaseMs = 60_000 } = {}) {
  const redis = await startRedis(t)
  const fence = sqlite({ path: join(tempDir(t, 'ownership'), 'collab.sqlite') })
  t.after(() => fence.onDestroy())
  const { log } = captureLog()
  const bus = new RedisBus(createClient({ url: redis.url }), { prefix: 'test', leaseMs, heartbeatInterval: 100, heartbeatTimeout: 1000 }, 'me', log, { message () {}, doubt () {} })
  await bus.start()
  t.after(() => bus.close(1000))
  const deposed = []
  const owned = new Ownership({ instanceId: 'me' }, bus, fence, (name, epoch, reason) => deposed.push({ name, epoch, reason }), () => [], leaseMs, log)
  owned.start()
  t.after(() => owned.stop())
  return { owned, deposed, redis }
}

test('a late refusal or unload of an earlier claim does nothing to a later claim of the same document', { skip }, async (t) => {
  const { owned, deposed, redis } = await ownership(t)
  const first = await owned.place('doc')
  assert.deepEqual([first.here, first.epoch], [true, 1], 'the store issued epoch 1')
  owned.lose('doc', 1, 'its write was refused')
  assert.deepEqual(deposed, [{ name: 'doc', epoch: 1, reason: 'its write was refused' }])
  // Placed again before the first load finished stepping down: a new claim, a higher epoch.
  const second = await owned.place('doc')
  assert.deepEqual([second.here, second.epoch], [true, 2])
  // The first load's late answers.
  owned.lose('doc', 1, 'a late refusal of the first load')
  owned.unloaded('doc', 1)
  assert.equal(deposed.length, 1, 'the later claim is not deposed')
  assert.equal(owned.ownedCount(), 1)
  const admin = await redis.client(t)
  assert.match(await admin.get('test:lease:doc'), /^me /, 'nor is its lease released')
  owned.unloaded('doc', 2)
  await waitFor(async () => await admin.get('test:lease:doc') === null, { what: 'the later claim\'s unload to release the lease' })
})

test('a tenure that passed is not served: place() steps the document down and claims again', { skip }, async (t) => {
  const { owned, deposed } = await ownership(t, { leaseMs: 200 })
  owned.stop()
  const first = await owned.place('doc')
  await waitFor(() => performance.now() >= first.tenure.validUntil, { what: 'the tenure to pass without renewals' })
  const second = await owned.place('doc')
  assert.equal(deposed.length, 1)
  assert.equal(deposed[0].epoch, first.epoch)
  assert.ok(second.here && second.epoch > first.epoch, 'a new claim, under a higher epoch')
})
