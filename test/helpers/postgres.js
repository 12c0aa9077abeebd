// A real PostgreSQL server for tests: `initdb` in a temporary folder, started
// with `pg_ctl` on a free port of 127.0.0.1, the socket in that folder, trust
// authentication for the `postgres` user. PostgreSQL refuses to run as root,
// so under root every command runs as the `postgres` user (`runuser`), which
// also owns the folder. The storage tests and the scale-out tests share it.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { makeTempDir, untilExit } from './cleanup.js'
import { postgresServer } from './needs.js'
import { onFreePort } from './ports.js'

const run = promisify(execFile)

/**
 * Starts a fresh PostgreSQL server. Stop it with `stop()` (the tests' `after` does).
 *
 * @param {{ settings?: Record<string, string | number> }} [options] extra `postgres -c` settings.
 * @returns {Promise<PostgresServer>}
 * @throws when PostgreSQL is not installed (see postgresServer in needs.js) or does not start.
 */
export async function startPostgres ({ settings = {} } = {}) {
  const { found: bin, missing } = postgresServer()
  if (missing) throw new Error(missing)
  const folder = makeTempDir('pg')
  const dir = folder.path
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    chownSync(dir, uid, gid)
  }
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  // As root, run as the postgres user; otherwise as ourselves. pg_ctl waits 60 s at most (-t 60);
  // initdb has no bound of its own.
  const command = (name, args) => asRoot
    ? run('runuser', ['-u', 'postgres', '--', join(bin, name), ...args], { timeout: 90_000 })
    : run(join(bin, name), args, { timeout: 90_000 })
  await command('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'])

  let port = 0
  const serverOptions = () => ['-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])].join(' ')
  const pgCtl = (action, extra = []) => command('pg_ctl', [action, '-D', data, '-w', '-t', '60', ...extra])

  const server = {
    dir,
    get port () { return port },
    get connectionString () { return `postgres://postgres@127.0.0.1:${port}/postgres` },
    /** The postmaster's process id (first line of postmaster.pid), or null when it is not running. */
    get pid () {
      try {
        return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
      } catch {
        return null
      }
    },
    /** The server log so far, for failure messages. */
    log: () => existsSync(logFile) ? readFileSync(logFile, 'utf8') : '',
    /** Starts the (stopped) server again on the same port. */
    start: () => pgCtl('start', ['-l', logFile, '-o', serverOptions()]),
    /** Stops the server; `'immediate'` is a crash: no checkpoint, recovery from the WAL at the next start. */
    stop: ({ mode = 'fast' } = {}) => pgCtl('stop', ['-m', mode]),
    /** `pg_ctl restart`: every connection is cut; with `'immediate'` the server crashes and recovers. */
    restart: ({ mode = 'fast' } = {}) => pgCtl('restart', ['-m', mode, '-l', logFile, '-o', serverOptions()]),
    /** Stops the server if it runs and removes its folder. */
    async destroy () {
      if (server.pid !== null) await server.stop({ mode: 'immediate' }).catch(() => {})
      release()
      folder.remove()
    }
  }
  // pg_ctl starts the server as a daemon, which outlives this process unless it is stopped: at exit,
  // SIGQUIT, PostgreSQL's immediate shutdown, and a wait (synchronous: 'exit' runs no callbacks) until it
  // is gone, so that its folder, removed next, is not still in use.
  const release = untilExit(() => {
    if (server.pid === null) return
    process.kill(server.pid, 'SIGQUIT')
    waitForExitSync(server.pid, 10_000)
  })

  try {
    await onFreePort((free) => {
      port = free
      return server.start()
    })
  } catch (error) {
    const log = server.log()
    await server.destroy()
    throw new Error(`PostgreSQL did not start: ${error.message}\n${log}`)
  }
  return server
}

/**
 * @typedef {object} PostgresServer
 * @property {string} dir the temporary folder: data directory, socket and log.
 * @property {number} port
 * @property {string} connectionString `postgres://postgres@127.0.0.1:<port>/postgres`
 * @property {number | null} pid
 * @property {() => string} log
 * @property {() => Promise<unknown>} start
 * @property {(options?: { mode?: 'smart' | 'fast' | 'immediate' }) => Promise<unknown>} stop
 * @property {(options?: { mode?: 'smart' | 'fast' | 'immediate' }) => Promise<unknown>} restart
 * @property {() => Promise<void>} destroy
 */

/** Blocks until process `pid` is gone or `timeout` ms have passed. */
function waitForExitSync (pid, timeout) {
  const pause = new Int32Array(new SharedArrayBuffer(4))
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    Atomics.wait(pause, 0, 0, 20)
  }
}
