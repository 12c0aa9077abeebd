// Issue 10 §1: two plain JSON GET routes, with or without an upgrade plugin
// registered (and no upgrade ever requested). `options.plugin` is 'none',
// 'noop' (the control: a plugin registered the same way that does nothing),
// 'ours' or 'fastify-websocket'; every variant loads the same Fastify copy.
import Fastify from 'fastify'

const params = { type: 'object', properties: { id: { type: 'integer' } } }

export async function start ({ plugin = 'none' } = {}) {
  const app = Fastify()
  if (plugin === 'noop') await app.register((await import('./noop-plugin.js')).default)
  if (plugin === 'ours') await app.register((await import('fastify-collab')).default)
  if (plugin === 'fastify-websocket') await app.register((await import('@fastify/websocket')).default)
  // A route with no hooks at all.
  app.get('/plain', async () => ({ hello: 'world' }))
  // A route with a params schema and an onRequest hook.
  app.get('/hooked/:id', {
    schema: { params },
    onRequest: async (request) => { request.seen = true }
  }, async (request) => ({ id: request.params.id }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
}
