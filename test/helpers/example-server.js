import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const serverPath = fileURLToPath(new URL('../../examples/server.js', import.meta.url))

/**
 * A temp DATA_DIR, removed after the test.
 * @param {import('node:test').TestContext} t
 * @returns {string}
 */
export function tempDataDir (t) {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-e2e-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Spawns `node examples/server.js` (the `npm start` process) on 127.0.0.1, a free port
 * (PORT=0), and `dataDir`, and resolves once it has logged the URL to open. A server still
 * running when the test ends is killed.
 *
 * @param {import('node:test').TestContext} t
 * @param {string} dataDir
 * @param {{ timeout?: number, env?: Record<string, string> }} [options] `timeout`: ms to wait for the URL
 *   line, default 15000; `env`: more environment variables (REDIS_URL makes it a cluster instance).
 * @returns {Promise<{ httpUrl: string, wsUrl: string, logs: object[], stop: () => Promise<number | null>, kill: () => Promise<void> }>}
 *   `stop()` sends SIGTERM (what Ctrl-C's SIGINT also does) and resolves with the exit code;
 *   `kill()` sends SIGKILL and resolves once the process is gone.
 * @throws when the process exits or stays silent before logging the URL.
 */
export async function startExampleServer (t, dataDir, { timeout = 15_000, env = {} } = {}) {
  const child = spawn(process.execPath, [serverPath], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit')
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk })
  const logs = []
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example server logged no URL within ${timeout} ms: ${stderr}`)), timeout)
    let buffered = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk
      let newline
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        let entry
        try { entry = JSON.parse(line) } catch { continue }
        logs.push(entry)
        const match = /^Open (http:\/\/\S+?)\/? /.exec(entry.msg ?? '')
        if (match) { clearTimeout(timer); resolve(match[1]) }
      }
    })
    exited.then(([code]) => { clearTimeout(timer); reject(new Error(`the example server exited with ${code}: ${stderr}`)) })
  })
  return {
    httpUrl: url,
    wsUrl: url.replace(/^http/, 'ws'),
    logs,
    async stop () {
      child.kill('SIGTERM')
      const [code] = await exited
      return code
    },
    async kill () {
      child.kill('SIGKILL')
      await exited
    }
  }
}
