// Metrics are opt-in: an app that does not ask for them never loads prom-client, and while nobody
// subscribes to a diagnostics channel no payload is built (every publisher checks hasSubscribers first).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hasSubscribers, tracingChannel } from 'node:diagnostics_channel'
import { readdirSync } from 'node:fs'
import { Registry } from 'prom-client'
import { channelNames } from 'fastify-collab'
import { acknowledged, listenCollab, startCollabServer, synced } from '../helpers/server.js'
import { loadedAfter, withModules } from '../helpers/isolated.js'

const serve = (options) => `
  const { default: Fastify } = await import('fastify')
  const { default: fastifyCollab } = await import('fastify-collab')
  const app = Fastify()
  await app.register(fastifyCollab, ${options})
  await app.ready()
  await app.close()
`

test('an app without the metrics option never loads prom-client; one with metrics: true does', () => {
  assert.equal(loadedAfter('prom-client', "await import('fastify-collab')"), false)
  assert.equal(loadedAfter('prom-client', serve('{ metrics: false }')), false)
  assert.equal(loadedAfter('prom-client', serve('{}')), false)
  assert.equal(loadedAfter('prom-client', serve('{ metrics: true }')), true)
})

test('without prom-client installed, metrics: true rejects with FST_COLLAB_METRICS_MISSING, and an app without it runs', (t) => {
  const root = new URL('../../node_modules/', import.meta.url)
  const modules = readdirSync(root).filter((name) => name !== 'prom-client' && !name.startsWith('.'))
  const out = withModules(t, modules, `
    const { default: Fastify } = await import('fastify')
    const { fastifyCollab } = await import('./dist/lib/index.js')
    const result = []
    for (const metrics of [true, undefined]) {
      const app = Fastify()
      try {
        await app.register(fastifyCollab, { metrics })
        result.push('ready')
      } catch (error) {
        result.push(error.code)
      }
      await app.close()
    }
    process.stdout.write(JSON.stringify(result))
  `)
  assert.deepEqual(JSON.parse(out), ['FST_COLLAB_METRICS_MISSING', 'ready'])
})

const tracing = new Set([channelNames.hook, channelNames.documentLoad, channelNames.store])
function subscribed () {
  return Object.values(channelNames).filter((name) => tracing.has(name) ? tracingChannel(name).hasSubscribers : hasSubscribers(name))
}

test('without metrics no channel has a subscriber while clients edit, so nothing is published; metrics subscribe to every channel, and leave at close', async (t) => {
  const plain = await startCollabServer(t, {})
  const hocus = plain.hocus('quiet')
  await synced(hocus)
  hocus.document.getText('t').insert(0, 'x')
  await acknowledged(hocus)
  assert.deepEqual(subscribed(), [])

  const measured = await listenCollab({ metrics: { registry: new Registry() } })
  assert.deepEqual(subscribed(), Object.values(channelNames))
  await measured.app.close()
  assert.deepEqual(subscribed(), [])
})
