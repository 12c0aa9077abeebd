// Starts one system under test in a child process pinned to core 0 and gives
// the load generator (pinned to core 1) its port, CPU time and memory.
import { spawn, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'

const entry = fileURLToPath(new URL('../server.js', import.meta.url))
export const SERVER_CORE = '0'
export const CLIENT_CORE = '1'

/** Pins this process (every thread) to the load generator's core. */
export function pinLoadGenerator () {
  execFileSync('taskset', ['-a', '-p', '-c', CLIENT_CORE, String(process.pid)], { stdio: 'ignore' })
}

/**
 * @param {string} system module name under bench/servers/
 * @param {object} [options] JSON-serialisable options for its start()
 * @param {object} [how] `core`: the core to pin it to (default SERVER_CORE); `env`: variables added to its
 *   environment (e.g. MALLOC_ARENA_MAX for bench/soak.js); `flags`: node flags (e.g. the idle suite's fixed
 *   young generation)
 */
export async function startServer (system, options = {}, { core = SERVER_CORE, env = {}, flags = [] } = {}) {
  // BENCH_SERVER_FLAGS adds node flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extraFlags = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []
  const child = spawn('taskset', ['-c', String(core), process.execPath, '--expose-gc', ...flags, ...extraFlags, entry, system, JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env }
  })
  const pending = new Map()
  let nextId = 0
  let exited = null
  child.on('message', (message) => {
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    waiter.resolve(message)
  })
  child.on('exit', (code, signal) => {
    exited = new Error(`server ${system} exited (${code ?? signal})`)
    for (const waiter of pending.values()) waiter.reject(exited)
    pending.clear()
  })
  const request = (message) => {
    if (exited !== null) return Promise.reject(exited)
    const id = ++nextId
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      child.send({ id, ...message })
    })
  }
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', () => reject(exited))
  })
  return {
    port: ready.port,
    pid: child.pid,
    /** Server CPU time in seconds (user + system), memoryUsage() and V8's heap spaces ({ name, size, used }), after a full GC if asked. */
    async usage ({ gc = false } = {}) {
      const { cpu, memory, spaces } = await request({ cmd: 'usage', gc })
      return { cpuSeconds: (cpu.user + cpu.system) / 1e6, memory, spaces }
    },
    /** The system's own figures (fastify-collab: loaded documents, connections, active timers), or null. */
    async stats () {
      const { stats } = await request({ cmd: 'stats' })
      return stats
    },
    /**
     * With BENCH_PROFILE=<dir>, starts the server's CPU profiler (`start`) or stops it and writes
     * <dir>/<label>-<pid>.cpuprofile (`stop`): the measured phase alone, unlike --cpu-prof's whole process.
     */
    async profile (action, label = system) {
      const dir = process.env.BENCH_PROFILE
      if (!dir) return
      await request({ cmd: 'profile', action, file: `${dir}/${label}-${child.pid}.cpuprofile` })
    },
    async stop () {
      if (exited !== null) return
      const exit = once(child, 'exit')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
      await request({ cmd: 'stop' }).catch(() => {})
      await exit
      clearTimeout(timer)
    }
  }
}
