import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startCluster } from '../helpers/cluster.js'
import { missing, redisServer } from '../helpers/needs.js'
import { synced } from '../helpers/server.js'
import { when } from '../helpers/wait.js'

const skip = missing(redisServer)
const HEARTBEAT_INTERVAL = 100
const HEARTBEAT_TIMEOUT = 500
const env = { HEARTBEAT_INTERVAL: String(HEARTBEAT_INTERVAL), HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT) }

test('awareness crosses instances; the users of a killed instance leave everyone\'s presence within the heartbeat bound', { skip, timeout: 60_000 }, async (t) => {
  const { nodes } = await startCluster(t, { env })
  const [owner, edge, other] = nodes
  const watcher = owner.clients.hocus('room')
  await synced(watcher)
  const remote = [edge.clients.yws('room'), edge.clients.hocus('room')]
  const bystander = other.clients.hocus('room')
  await Promise.all([...remote, bystander].map(provider => synced(provider)))
  remote.forEach((provider, i) => provider.awareness.setLocalStateField('user', { name: `remote ${i}` }))
  bystander.awareness.setLocalStateField('user', { name: 'bystander' })
  const names = () => [...watcher.awareness.getStates().values()].map(state => state.user?.name).filter(Boolean).sort()
  await when(watcher.awareness, 'change', { check: () => names().length === 3, what: 'three users in presence' })
  assert.deepEqual(names(), ['bystander', 'remote 0', 'remote 1'])

  const killed = Date.now()
  await edge.kill('SIGKILL')
  await when(watcher.awareness, 'change', { check: () => names().length === 1, timeout: 5000, what: 'the killed instance\'s users to leave' })
  const elapsed = Date.now() - killed
  t.diagnostic(`the killed instance's users left presence after ${elapsed} ms`)
  assert.deepEqual(names(), ['bystander'])
  assert.ok(elapsed <= HEARTBEAT_TIMEOUT + 2 * HEARTBEAT_INTERVAL + 1500, `within the bound (${elapsed} ms)`)
})
