// What some tests need from the machine or the runtime, found by what works here (on PATH, in an
// environment variable, by running it), and the one way a test that lacks it says so: a skip with the
// reason where a developer may not have it installed, a failure under CI=true, where .ci/run installs
// everything and a skip would be a pass that tested nothing.
import { execFileSync } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { SqliteStorage } from 'fastify-collab/sqlite'
import { makeTempDir } from './cleanup.js'

const require = createRequire(import.meta.url)

/**
 * The `skip` option of a test that needs `needs` (falsy entries are ignored): false when every one is
 * here, else the reasons, which node:test prints with the skip. Under CI=true a missing need throws
 * instead, so that the test file fails with the reason.
 *
 * @param {...(Need | false)} needs
 * @returns {string | false}
 */
export function missing (...needs) {
  const reasons = needs.filter(Boolean).map((need) => need().missing).filter(Boolean)
  if (reasons.length === 0) return false
  const message = reasons.join('; ')
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true runs every test)`)
  return message
}

/**
 * @typedef {() => { found?: string, missing?: string }} Need what was found (a path, a driver name), or
 *   why it is missing; probed once per process.
 */

/**
 * A Need from `probe`, which returns what it found or throws why it is missing.
 * @param {() => string} probe
 * @returns {Need}
 */
function need (probe) {
  let result
  return () => {
    if (result === undefined) {
      try {
        result = { found: probe() }
      } catch (error) {
        result = { missing: error.message }
      }
    }
    return result
  }
}

/** Runs `command --version` (bounded: a sync child blocks the test file until it ends). */
function runs (command) {
  execFileSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 })
  return command
}

/** The first executable file named `name` in a folder of PATH, or undefined. */
function onPath (name) {
  for (const folder of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(folder, name), constants.X_OK)
      return join(folder, name)
    } catch {}
  }
}

/** `redis-server` (or `$REDIS_SERVER`), for the scale-out tests. */
export const redisServer = need(() => {
  const command = process.env.REDIS_SERVER ?? 'redis-server'
  try {
    return runs(command)
  } catch {
    throw new Error(`${command} does not run here: install redis-server, or set REDIS_SERVER`)
  }
})

/**
 * The folder of PostgreSQL's `initdb` and `pg_ctl`: `$PG_BIN`, else the folder of a `pg_ctl` on PATH,
 * else the newest /usr/lib/postgresql/<version>/bin, where Debian installs them off PATH.
 */
export const postgresServer = need(() => {
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian) ? readdirSync(debian).map(Number).filter(Number.isInteger).sort((a, b) => b - a) : []
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : [onPath('pg_ctl') && dirname(onPath('pg_ctl')), ...versions.map((version) => join(debian, String(version), 'bin'))]
  for (const folder of candidates.filter(Boolean)) {
    try {
      runs(join(folder, 'pg_ctl'))
      runs(join(folder, 'initdb'))
      return folder
    } catch {}
  }
  throw new Error('PostgreSQL\'s initdb and pg_ctl do not run here: apt-get install postgresql, or set PG_BIN to their folder')
})

/** Chromium for the browser tests: `$CHROMIUM`, else the first of these names on PATH that runs. */
export const chromiumBrowser = need(() => {
  const names = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
  for (const name of names) {
    const path = name.includes('/') ? name : onPath(name)
    try {
      if (path !== undefined) return runs(path)
    } catch {}
  }
  throw new Error(`no Chromium runs here (tried ${names.join(', ')}): apt-get install chromium, or set CHROMIUM to the browser`)
})

/** `chattr +i`, which makes a file read-only even for root: it needs root and inode flags (ext4, xfs, btrfs) in TMPDIR. */
export const chattrImmutable = need(() => {
  const dir = makeTempDir('chattr')
  try {
    const probe = join(dir.path, 'probe')
    execFileSync('touch', [probe], { timeout: 10_000 })
    execFileSync('chattr', ['+i', probe], { stdio: 'pipe', timeout: 10_000 })
    execFileSync('chattr', ['-i', probe], { stdio: 'pipe', timeout: 10_000 })
    return 'chattr'
  } catch {
    throw new Error(`chattr +i does not work in ${tmpdir()} (it needs root, and ext4, xfs or btrfs)`)
  } finally {
    dir.remove()
  }
})

/** Linux's /proc, to list processes with their parents and command lines (the cleanup test). */
export const processTable = need(() => {
  if (!existsSync('/proc/self/stat')) throw new Error('there is no /proc here to list processes')
  return '/proc'
})

/** Whether this Node has node:sqlite (22.13 and later, without a flag): then its SQLite driver must work. */
export const runtimeHasNodeSqlite = (() => {
  try {
    require('node:sqlite')
    return true
  } catch {
    return false
  }
})()

const drivers = new Map()
/**
 * A SQLite driver that opens a file on this runtime, with the error it throws when it does not.
 * @param {'better-sqlite3' | 'node:sqlite'} driver
 * @returns {Need}
 */
export function sqliteDriver (driver) {
  if (!drivers.has(driver)) {
    drivers.set(driver, need(() => {
      const dir = makeTempDir('probe')
      try {
        new SqliteStorage({ path: join(dir.path, 'probe.db'), driver }).close()
        return driver
      } catch (error) {
        throw new Error(`the SQLite driver ${driver} does not open a file on Node ${process.versions.node}: ${error.code ?? ''} ${error.message}`)
      } finally {
        dir.remove()
      }
    }))
  }
  return drivers.get(driver)
}

/**
 * A Node with node:sqlite for the other half of the cross-driver test, when this one lacks it:
 * `$NODE_SQLITE_RUNTIME` (.ci/run points it at its Node 24).
 */
export const nodeSqliteRuntime = need(() => {
  const node = process.env.NODE_SQLITE_RUNTIME
  if (node === undefined) throw new Error(`Node ${process.versions.node} has no node:sqlite: set NODE_SQLITE_RUNTIME to a Node >= 22.13 to run node:sqlite's half`)
  try {
    execFileSync(node, ['-e', "require('node:sqlite')"], { stdio: 'pipe', timeout: 10_000 })
    return node
  } catch (error) {
    throw new Error(`NODE_SQLITE_RUNTIME=${node} does not load node:sqlite: ${error.message}`)
  }
})
