import { basename, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NodeProcess, logLine } from './child.js'

const serverPath = fileURLToPath(new URL('../../examples/server.js', import.meta.url))

/**
 * Spawns `node examples/server.js` (the `npm start` process), or another example's `script`, on
 * 127.0.0.1, a free port (PORT=0), and `dataDir` (DATA_DIR, when given), and resolves once it has logged
 * the URL to open (`Open http://…/ …`). A server still running when the test ends is killed.
 *
 * @param {import('node:test').TestContext} t
 * @param {string | undefined} dataDir
 * @param {{ timeout?: number, env?: Record<string, string>, script?: string }} [options] `timeout`: ms to wait
 *   for the URL line, default 20000; `env`: more environment variables (REDIS_URL makes the demo a cluster
 *   instance); `script`: the example's path, default examples/server.js.
 * @returns {Promise<{ httpUrl: string, wsUrl: string, logs: object[], stop: () => Promise<number | null>, kill: () => Promise<void> }>}
 *   `logs` are the pino lines so far; `stop()` sends SIGTERM (what Ctrl-C's SIGINT also does) and
 *   resolves with the exit code once the process has ended; `kill()` sends SIGKILL and resolves once
 *   the process is gone.
 * @throws when the process ends or stays silent before logging the URL.
 */
export async function startExampleServer (t, dataDir, { timeout = 20_000, env = {}, script = serverPath } = {}) {
  const server = new NodeProcess(t, [script], {
    name: `the example server ${basename(dirname(script))}/${basename(script)}`,
    env: { PORT: '0', HOST: '127.0.0.1', ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }), LOG_LEVEL: 'info', ...env }
  })
  const opening = /^Open (http:\/\/\S+?)\/? /
  const line = await server.line((line) => opening.test(logLine(line).msg ?? ''), { timeout, what: 'the URL to open' })
  const url = opening.exec(logLine(line).msg)[1]
  return {
    httpUrl: url,
    wsUrl: url.replace(/^http/, 'ws'),
    get logs () { return server.out.map(logLine) },
    async stop () {
      await server.kill('SIGTERM')
      // fastify.close() waits for every HTTP connection to end: a client that holds one open (a browser
      // that is still running, a response body nobody read) keeps the server from exiting.
      const { code } = await server.exit({ what: 'the example server to exit after SIGTERM (a client still holding a connection?)' })
      return code
    },
    kill: () => server.kill()
  }
}
