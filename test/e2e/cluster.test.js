import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/ports.js'
import { missing, redisServer } from '../helpers/needs.js'
import { connectClients, synced } from '../helpers/server.js'
import { tempDir } from '../helpers/cleanup.js'
import { NodeProcess } from '../helpers/child.js'
import { get } from '../helpers/http.js'
import { once } from '../helpers/wait.js'

const cluster = fileURLToPath(new URL('../../examples/cluster.js', import.meta.url))
const skip = missing(redisServer)

/** A first port whose next two are free too, on 127.0.0.1. */
async function freeRun (count) {
  for (;;) {
    const first = await freePort()
    const held = []
    try {
      for (let port = first; port < first + count; port++) {
        const server = createServer().listen(port, '127.0.0.1')
        held.push(server)
        await once(server, 'listening')
      }
      return first
    } catch {
      // One of them was taken: try another run.
    } finally {
      for (const server of held) server.close()
    }
  }
}

test('npm run start:cluster: a redis-server of its own, three instances on consecutive ports sharing DATA_DIR, their URLs logged; SIGTERM stops them all', { skip, timeout: 60_000 }, async (t) => {
  const port = await freeRun(3)
  // An empty REDIS_URL: the cluster starts its own redis-server, which it stops only when it stops.
  const command = new NodeProcess(t, [cluster], {
    name: 'the cluster command',
    env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(t, 'data'), LOG_LEVEL: 'info', REDIS_URL: '' },
    term: true
  })
  // The cluster's own lines, then each instance's pino line with the URL to open, once it listens.
  await command.line(() => command.out.filter((line) => /"msg":"Open http/.test(line)).length === 3, { what: 'three instances listening' })
  const lines = command.out
  const urls = lines.map((line) => /instance \d: (http:\/\/\S+)\//.exec(line)?.[1]).filter(Boolean)
  assert.deepEqual(urls, [0, 1, 2].map((i) => `http://127.0.0.1:${port + i}`))
  assert.ok(lines.some((line) => /redis-server on port \d+/.test(line)), 'it started a redis-server')
  // Each instance answers, with an id of its own; a document opened on one is owned by it for all three.
  const ids = await Promise.all(urls.map(async (url) => (await get(`${url}/health`)).json().instanceId))
  assert.equal(new Set(ids).size, 3)
  const clients = connectClients(`${urls[1].replace('http', 'ws')}/collab`)
  t.after(() => clients.destroyAll())
  await synced(clients.hocus('shared', { url: `${urls[1].replace('http', 'ws')}/collab/shared?token=demo` }))
  const owners = await Promise.all(urls.map(async (url) => (await get(`${url}/api/owner/shared`)).json().owner))
  assert.deepEqual(owners, [ids[1], ids[1], ids[1]])
  clients.destroyAll()

  await command.kill('SIGTERM')
  const { code } = await command.exit({ what: 'the cluster command to stop its instances and Redis, then exit' })
  assert.equal(code, 0)
})
