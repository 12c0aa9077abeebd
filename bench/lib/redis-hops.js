// The floor of a two-trip delivery (issue 17 §5): a message published by one
// process, relayed by a second (as the owner relays an edge's update), and
// received by a third, through one Redis, with node-redis, every process on
// the servers' core as in bench/scale-out.js's latency suite. No Yjs, no
// WebSocket: what two Redis hops between three processes cost on this machine.
// Run as a child: `node redis-hops.js <role> <url>` with role source, relay or sink.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { createClient } from 'redis'

const self = fileURLToPath(import.meta.url)

/**
 * Sends `count` messages, one per `interval` ms, from source to sink through the relay.
 * @returns {Promise<number[]>} each message's time from its publish to its arrival at the sink, in ms (the
 *   processes share the kernel's monotonic clock)
 */
export async function redisHops (url, { core, count, interval }) {
  const start = (role) => {
    const child = spawn('taskset', ['-c', String(core), process.execPath, self, role, url, String(count), String(interval)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    return { child, ready: once(child, 'message') }
  }
  const children = ['sink', 'relay'].map(start)
  try {
    await Promise.all(children.map((c) => c.ready))
    const [sink] = children
    const result = once(sink.child, 'message')
    const source = start('source')
    children.push(source)
    return (await result)[0]
  } finally {
    for (const { child } of children) child.kill()
  }
}

async function child ([role, url, count, interval]) {
  const client = createClient({ url })
  await client.connect()
  if (role === 'source') {
    for (let k = 0; k < Number(count); k++) {
      await client.publish('hop-1', String(process.hrtime.bigint()))
      await delay(Number(interval))
    }
    return
  }
  const subscriber = client.duplicate()
  await subscriber.connect()
  if (role === 'relay') {
    await subscriber.subscribe('hop-1', (message) => { client.publish('hop-2', message) })
  } else {
    const times = []
    await subscriber.subscribe('hop-2', (message) => {
      times.push(Number(process.hrtime.bigint() - BigInt(message)) / 1e6)
      if (times.length === Number(count)) process.send(times)
    })
  }
  process.send('ready')
}

if (process.argv[1] === self) await child(process.argv.slice(2))
