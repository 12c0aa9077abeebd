// `npm run start:cluster` (examples/cluster.js) as a person runs it: a command in a process group of its
// own, read from what it prints.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { NodeProcess } from './child.js'
import { tempDir } from './cleanup.js'
import { freePort } from './ports.js'
import { once, waitFor } from './wait.js'

const cluster = fileURLToPath(new URL('../../examples/cluster.js', import.meta.url))

/** A free port on 127.0.0.1 whose next `count - 1` ports are free too. */
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

/**
 * Starts the cluster command with a redis-server of its own (REDIS_URL empty), the proxy on a free port
 * and `instances` instances on the ports after it, and resolves once the proxy listens. Whatever is
 * left of its process group is SIGKILLed after the test.
 *
 * @param {import('node:test').TestContext} t
 * @param {{ instances?: number }} [options] default 3.
 * @returns {Promise<{ command: NodeProcess, port: number, proxyUrl: string, redisPid: number, instances: Array<{ number: number, url: string, pid: number }> }>}
 *   `instances` in the order of their numbers, read from the lines the command printed.
 */
export async function startClusterCommand (t, { instances = 3 } = {}) {
  const port = await freeRun(instances + 1)
  const command = new NodeProcess(t, [cluster], {
    name: 'the cluster command',
    env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(t, 'data'), LOG_LEVEL: 'warn', INSTANCES: String(instances), REDIS_URL: '' },
    term: true,
    group: true
  })
  await command.line((line) => line.startsWith('[cluster] open http'), { what: 'the proxy to listen' })
  const started = command.out.flatMap((line) => {
    const [, number, url, pid] = /^\[cluster\] instance (\d+): (http:\/\/\S+)\/ \(pid (\d+)\)$/.exec(line) ?? []
    return number === undefined ? [] : [{ number: Number(number), url, pid: Number(pid) }]
  }).sort((a, b) => a.number - b.number)
  const redisPid = Number(command.out.map((line) => /^\[cluster\] redis-server on port \d+ \(pid (\d+),/.exec(line)?.[1]).find(Boolean))
  return { command, port, proxyUrl: `http://127.0.0.1:${port}`, redisPid, instances: started }
}

/** Whether process `pid` runs (an ended process that waits for its parent to read its status does not). */
export function running (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Resolves once none of `pids` runs; rejects after 10 s naming `what` they are. */
export async function ended (pids, what) {
  await waitFor(() => !pids.some(running), { timeout: 10_000, interval: 50, what: `${what} (pid ${pids.join(', ')}) to end` })
}
