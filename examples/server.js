// `npm start`: the demo collaboration server. PORT (default 1234), HOST (default 127.0.0.1),
// DATA_DIR (default ./data) and DEMO_TOKEN (default demo) change it; REDIS_URL makes it one
// instance of a scale-out cluster and TRUST_PROXY (Fastify's `trustProxy`, e.g. `loopback`) takes
// the client's address from the X-Forwarded-For of such a proxy (see examples/cluster.js). Ctrl-C
// stores every document and exits; a second Ctrl-C exits at once (examples/serve.js).
import { resolve } from 'node:path'
import { buildApp } from './app.js'
import { serve } from './serve.js'

const dataDir = resolve(process.env.DATA_DIR ?? 'data')

await serve(() => buildApp({
  dataDir,
  token: process.env.DEMO_TOKEN ?? 'demo',
  redisUrl: process.env.REDIS_URL,
  trustProxy: process.env.TRUST_PROXY,
  logger: { level: process.env.LOG_LEVEL ?? 'info' }
}), {
  port: 1234,
  text: (address, app) => `Open ${address}/ to edit together (data in ${dataDir}${process.env.REDIS_URL === undefined ? '' : `, instance ${app.collab.instanceId}`})`
})
