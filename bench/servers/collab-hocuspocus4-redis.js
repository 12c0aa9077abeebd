// @hocuspocus/server 4.7 with @hocuspocus/extension-redis 4.7 (options.redis:
// a redis:// URL), its stock Server on 127.0.0.1: the anchor's scale-out.
import { Server } from '@hocuspocus/server'
import { Redis } from '@hocuspocus/extension-redis'

export async function start (options = {}) {
  const { hostname, port } = new URL(options.redis)
  const server = new Server({
    port: 0,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: false,
    extensions: [new Redis({ host: hostname, port: Number(port) })]
  })
  await server.listen()
  return { port: server.httpServer.address().port, close: () => server.destroy() }
}
