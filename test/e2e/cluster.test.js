import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/ports.js'
import { redisMissing } from '../helpers/redis.js'
import { connectClients, synced } from '../helpers/server.js'
import { tempDataDir } from '../helpers/example-server.js'

const cluster = fileURLToPath(new URL('../../examples/cluster.js', import.meta.url))
const skip = redisMissing()

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
  const child = spawn(process.execPath, [cluster], {
    // An empty REDIS_URL: the cluster starts its own redis-server.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDataDir(t), LOG_LEVEL: 'info', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  // The cluster's own lines, then each instance's pino line with the URL to open, once it listens.
  const lines = []
  const urls = []
  let listening = 0
  for await (const line of createInterface({ input: child.stdout })) {
    lines.push(line)
    const match = /instance \d: (http:\/\/\S+)\//.exec(line)
    if (match) urls.push(match[1])
    if (/"msg":"Open http/.test(line)) listening++
    if (listening === 3) break
  }
  child.stdout.resume()
  assert.deepEqual(urls, [0, 1, 2].map((i) => `http://127.0.0.1:${port + i}`))
  assert.ok(lines.some((line) => /redis-server on port \d+/.test(line)), 'it started a redis-server')
  // Each instance answers, with an id of its own; a document opened on one is owned by it for all three.
  const ids = await Promise.all(urls.map(async (url) => (await (await fetch(`${url}/health`)).json()).instanceId))
  assert.equal(new Set(ids).size, 3)
  const clients = connectClients(`${urls[1].replace('http', 'ws')}/collab`)
  t.after(() => clients.destroyAll())
  await synced(clients.hocus('shared', { url: `${urls[1].replace('http', 'ws')}/collab/shared?token=demo` }))
  const owners = await Promise.all(urls.map(async (url) => (await (await fetch(`${url}/api/owner/shared`)).json()).owner))
  assert.deepEqual(owners, [ids[1], ids[1], ids[1]])
  clients.destroyAll()

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0)
})
