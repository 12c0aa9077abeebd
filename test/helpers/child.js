// Node processes a test starts (fixture servers, the examples, commands): what they write is kept,
// every wait on them is bounded and names what it waited for, and none outlives its test.
import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { createInterface } from 'node:readline'
import { killAtExit, untilExit } from './cleanup.js'
import { when } from './wait.js'

/**
 * `node <args>`, SIGKILLed after the test if it still runs (with `term`, sent SIGTERM first), or when
 * this process exits.
 *
 * `stdout` and `stderr` are read line by line into `out` and `err`; each line is also emitted as
 * 'out' or 'err' on `events`, and 'end' once both streams and the process have ended.
 */
export class NodeProcess {
  /** @type {string[]} */
  out = []
  /** @type {string[]} */
  err = []
  events = new EventEmitter()
  /** @type {{ code: number | null, signal: string | null } | null} how it ended, once every line was read */
  ended = null

  /**
   * @param {import('node:test').TestContext} t
   * @param {string[]} args for `node`: a script and its arguments
   * @param {{ name: string, env?: Record<string, string>, cwd?: string, stdin?: 'ignore' | 'pipe', ipc?: boolean, term?: boolean, group?: boolean }} options
   *   `name` says which process a failed wait was about; `env` is added to this process's environment;
   *   `term` is for a process that stops children of its own only when it is asked to (SIGTERM);
   *   `group` runs it in a process group of its own, as a shell runs a command: `signalGroup()`
   *   signals every process in it, and whatever is left in it is SIGKILLed after the test.
   */
  constructor (t, args, { name, env = {}, cwd, stdin = 'ignore', ipc = false, term = false, group = false }) {
    this.name = name
    this.child = killAtExit(spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: [stdin, 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
      detached: group
    }))
    const releaseGroup = group ? untilExit(() => this.signalGroup('SIGKILL')) : () => {}
    t.after(async () => {
      if (term && this.alive) {
        this.child.kill('SIGTERM')
        await this.exit({ timeout: 10_000, what: `${name} to stop after SIGTERM` }).catch(() => {})
      }
      await this.kill()
      if (group) this.signalGroup('SIGKILL')
      releaseGroup()
    })
    const streams = [['out', this.child.stdout], ['err', this.child.stderr]].map(([kind, stream]) => new Promise((resolve) => {
      const lines = createInterface({ input: stream })
      lines.on('line', (line) => {
        this[kind].push(line)
        this.events.emit(kind, line)
      })
      lines.on('close', resolve)
    }))
    const exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    Promise.all([exit, ...streams]).then(([ended]) => {
      this.ended = ended
      this.events.emit('end')
    })
  }

  get alive () {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /**
   * Resolves with the first line of stdout (already written or to come) that passes `predicate`.
   * @param {(line: string) => boolean} predicate
   * @param {{ timeout?: number, what?: string }} [options] `timeout` in ms, default 20000: a fresh Node
   *   process loads Fastify and the plugin first, which takes seconds on a loaded 2-core machine.
   * @returns {Promise<string>} rejects with the process's stderr if it ends first, or after `timeout` ms.
   */
  async line (predicate, { timeout = 20_000, what = 'a line' } = {}) {
    const found = () => {
      const line = this.out.find(predicate)
      if (line === undefined && this.ended !== null) throw this.#error(`ended (${this.#how()}) before ${what}`)
      return line !== undefined
    }
    await when(this.events, ['out', 'end'], { check: found, timeout, what: `${what} from ${this.name}` })
    return this.out.find(predicate)
  }

  /**
   * Resolves once the process has ended and every line it wrote was read.
   * @param {{ timeout?: number, what?: string }} [options] `timeout` in ms, default 20000.
   * @returns {Promise<{ code: number | null, signal: string | null }>}
   */
  async exit ({ timeout = 20_000, what = `${this.name} to exit` } = {}) {
    await when(this.events, 'end', { check: () => this.ended !== null, timeout, what })
    return this.ended
  }

  /** Sends `signal` if the process runs; for SIGKILL, resolves once it is gone. */
  async kill (signal = 'SIGKILL') {
    if (!this.alive) return
    this.child.kill(signal)
    if (signal === 'SIGKILL') await when(this.child, 'exit', { check: () => !this.alive, what: `${this.name} to end after SIGKILL` })
  }

  /** Sends `signal` to every process of its process group (`group: true`), if any is left. */
  signalGroup (signal) {
    try {
      process.kill(-this.child.pid, signal)
    } catch {} // ESRCH: nothing is left in the group
  }

  #how () {
    return this.ended.signal ?? `code ${this.ended.code}`
  }

  #error (message) {
    return new Error(`${this.name} ${message}; its stderr:\n${this.err.join('\n')}`)
  }
}

/**
 * A pino line as an object; a line that is not JSON (a crash's stack) as `{ msg: line }`.
 * @param {string} line
 * @returns {object}
 */
export function logLine (line) {
  try {
    return JSON.parse(line)
  } catch {
    return { msg: line }
  }
}
