// A Hocuspocus server moved onto Fastify: the "after" of a migration from @hocuspocus/server 4. It mirrors:
//
//   import { Server } from '@hocuspocus/server'
//   import { SQLite } from '@hocuspocus/extension-sqlite'
//   import { Redis } from '@hocuspocus/extension-redis'
//
//   const server = new Server({
//     port: 1234,
//     extensions: [
//       new SQLite({ database: 'data/hocuspocus.sqlite' }),
//       ...(process.env.REDIS_HOST ? [new Redis({ host: process.env.REDIS_HOST, port: 6379 })] : [])
//     ],
//     async onAuthenticate ({ token }) {
//       const user = users.get(token)
//       if (user === undefined) throw new Error('Not authorized!')
//       return { user }
//     },
//     async onChange ({ documentName, context }) { lastEditors.set(documentName, context.user) },
//     async onStoreDocument ({ documentName, document }) { texts.set(documentName, document.getText('content').toString()) },
//     async onRequest ({ request, response }) { … GET /documents/:name by hand … }
//   })
//   server.listen()
//
//   node examples/from-hocuspocus/server.js    # PORT (default 1234), HOST, DATA_DIR (default ./data), REDIS_URL
//
// Its clients do not change: a HocuspocusProvider on ws://host:1234 with the same `name` and `token`. The
// hooks keep their names and payloads; the SQLite extension becomes the `sqlite()` store (move the documents
// over first: `npx fastify-collab-import-hocuspocus --from data/hocuspocus.sqlite --to data/collab.sqlite`),
// the Redis extension the `scaleOut` option, `listen()` Fastify's, and `onRequest` ordinary routes.
import { join, resolve } from 'node:path'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { sqlite } from 'fastify-collab/sqlite'
import { serve } from '../serve.js'

// A real app looks the token up in its sessions, or verifies a JWT (see examples/jwt-auth).
const users = new Map([['alice-token', 'alice'], ['bob-token', 'bob']])

const dataDir = resolve(process.env.DATA_DIR ?? 'data')

await serve(async () => {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  // In memory for the example; a real app writes them to its database. With `scaleOut`, document hooks
  // run on the document's owner, so these fill there.
  const lastEditors = new Map()
  const texts = new Map()

  await app.register(fastifyCollab, {
    extensions: [sqlite({ path: join(dataDir, 'collab.sqlite'), busyTimeout: 10 })],
    // Several instances behind a load balancer: a store that fences (SQLite on one host, or PostgreSQL)
    // plus Redis. Each document has one owner, which runs its hooks.
    scaleOut: process.env.REDIS_URL ? (await import('fastify-collab/redis')).redis({ url: process.env.REDIS_URL }) : undefined,
    // Hocuspocus's own defaults, named the same.
    debounce: 2000,
    maxDebounce: 10_000,

    async onAuthenticate ({ token }) {
      const user = users.get(token)
      // The client reads 'permission-denied', as from Hocuspocus; this message stays in the log.
      if (user === undefined) throw new Error('Not authorized!')
      return { user }
    },
    // Awaited: a Hocuspocus client's SyncStatus for its change waits for every onChange hook (the store's
    // write included, which runs first: extensions before the hooks given here).
    async onChange ({ documentName, context }) {
      lastEditors.set(documentName, context.user)
    },
    // Debounced as in Hocuspocus, and at once when the last client leaves; the store has written the
    // snapshot before this runs.
    async onStoreDocument ({ documentName, document }) {
      texts.set(documentName, document.getText('content').toString())
    }
  })

  // Hocuspocus served every path; a Fastify app says which. A provider's URL stays ws://host:1234.
  app.get('/', async (request, reply) => {
    if (!request.isUpgrade) return { hint: 'connect a HocuspocusProvider here' }
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request)
  })

  // What Hocuspocus's onRequest hook did by hand: any route, with its schema and hooks.
  app.get('/documents/:name', async (request, reply) => {
    const { name } = request.params
    if (!texts.has(name)) return reply.code(404).send({ error: 'Not Found', message: `${name} was not stored since the start` })
    return { name, text: texts.get(name), lastEditedBy: lastEditors.get(name) ?? null }
  })
  return app
}, {
  port: 1234,
  text: (address) => `Open ${address}/ with a HocuspocusProvider (url ${address.replace(/^http/, 'ws')}, token alice-token)`
})
