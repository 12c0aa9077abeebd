import { test } from 'node:test'
import assert from 'node:assert/strict'
import { missing, processTable, redisServer } from '../helpers/needs.js'
import { connectClients, synced } from '../helpers/server.js'
import { ended, startClusterCommand } from '../helpers/cluster-command.js'
import { get } from '../helpers/http.js'
import { when } from '../helpers/wait.js'

const skip = missing(redisServer, processTable)

test('npm run start:cluster: one address, a proxy that takes turns over three instances sharing DATA_DIR and a redis-server of its own; SIGTERM stops them all', { skip, timeout: 60_000 }, async (t) => {
  const { command, port, proxyUrl, redisPid, instances } = await startClusterCommand(t)
  assert.deepEqual(instances.map(({ url }) => url), [1, 2, 3].map((i) => `http://127.0.0.1:${port + i}`))
  assert.ok(redisPid > 0, 'it started a redis-server and said which')

  // Each instance has an id of its own; the proxy sends three requests in a row to the three of them.
  const ids = await Promise.all(instances.map(async ({ url }) => (await get(`${url}/health`)).json().instanceId))
  assert.equal(new Set(ids).size, 3)
  const viaProxy = []
  for (let i = 0; i < 3; i++) viaProxy.push((await get(`${proxyUrl}/health`)).json().instanceId)
  assert.deepEqual(viaProxy.toSorted(), ids.toSorted(), 'one request to each instance')
  assert.equal((await get(`${proxyUrl}/`)).status, 200, 'the page, through the proxy')

  // Two clients through the proxy land on two instances; the first one's owns the document, and the
  // owner tells each client where its socket is and who owns the document (a Stateless message).
  const wsUrl = `ws://127.0.0.1:${port}/collab/shared?token=demo`
  const clients = connectClients(wsUrl)
  t.after(() => clients.destroyAll())
  const where = async (provider) => {
    const [{ payload }] = await when(provider, 'stateless', { what: 'where the socket is, from the owner' })
    return JSON.parse(payload)
  }
  const first = clients.hocus('shared', { url: wsUrl })
  const [firstWhere] = await Promise.all([where(first), synced(first)])
  const second = clients.hocus('shared', { url: wsUrl })
  const [secondWhere] = await Promise.all([where(second), synced(second)])
  assert.equal(firstWhere.owner, firstWhere.instance)
  assert.deepEqual(secondWhere, { instance: secondWhere.instance, owner: firstWhere.instance })
  assert.notEqual(secondWhere.instance, firstWhere.instance, 'the second socket went to another instance')
  const owners = await Promise.all(instances.map(async ({ url }) => (await get(`${url}/api/owner/shared`)).json().owner))
  assert.deepEqual(owners, [firstWhere.owner, firstWhere.owner, firstWhere.owner])
  first.document.getText('codemirror').insert(0, 'through the proxy')
  await when(second.document, 'update', { check: () => second.document.getText('codemirror').toString() === 'through the proxy' })
  clients.destroyAll()

  await command.kill('SIGTERM')
  const { code } = await command.exit({ what: 'the cluster command to stop the proxy, its instances and Redis, then exit' })
  assert.equal(code, 0)
  assert.match(command.out.join('\n'), /\[cluster\] stopped$/)
  await ended([redisPid, ...instances.map(({ pid }) => pid)], 'redis-server and the instances')
})

// A shell, a terminal's Ctrl-C, systemd and `kill -- -PGID` signal the command's whole process group;
// a stop that takes too long gets SIGKILL. Either way nothing may be left: Redis and the instances die
// with the command, whether the signal reached them too or only the command.
for (const [how, stop] of [
  ['SIGTERM to its process group, then at once SIGKILL to the group', (command) => {
    command.signalGroup('SIGTERM')
    command.signalGroup('SIGKILL')
  }],
  ['SIGKILL to the command alone', (command) => command.kill('SIGKILL')]
]) {
  test(`npm run start:cluster leaves no redis-server and no instance behind after ${how}`, { skip, timeout: 60_000 }, async (t) => {
    const { command, redisPid, instances } = await startClusterCommand(t, { instances: 1 })
    await stop(command)
    await command.exit({ what: 'the cluster command to end' })
    await ended([redisPid], 'redis-server')
    await ended(instances.map(({ pid }) => pid), 'the instance')
  })
}
