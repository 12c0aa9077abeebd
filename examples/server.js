// `npm start`: the demo collaboration server. PORT (default 1234), HOST (default 127.0.0.1),
// DATA_DIR (default ./data) and DEMO_TOKEN (default demo) change it; REDIS_URL makes it one
// instance of a scale-out cluster (see examples/cluster.js). Ctrl-C stores every document and
// exits; a second Ctrl-C exits at once.
import { resolve } from 'node:path'
import { buildApp } from './app.js'

const port = Number(process.env.PORT ?? 1234)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = resolve(process.env.DATA_DIR ?? 'data')

const app = await buildApp({
  dataDir,
  token: process.env.DEMO_TOKEN ?? 'demo',
  redisUrl: process.env.REDIS_URL,
  logger: { level: process.env.LOG_LEVEL ?? 'info' }
})

let closing = false
async function shutdown (signal) {
  // A second Ctrl-C is the way out of a close that hangs.
  if (closing) {
    app.log.warn({ signal }, 'exiting without waiting for the close')
    process.exit(1)
  }
  closing = true
  app.log.info({ signal }, 'storing every document, then exiting')
  try {
    await app.close()
    app.log.info('closed')
    process.exitCode = 0
  } catch (error) {
    app.log.error({ err: error }, 'close failed')
    process.exitCode = 1
  }
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)

await app.listen({
  port,
  host,
  listenTextResolver: (address) => `Open ${address}/ to edit together (data in ${dataDir}${process.env.REDIS_URL === undefined ? '' : `, instance ${app.collab.instanceId}`})`
})
