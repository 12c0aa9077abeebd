// A Tiptap (ProseMirror) editor on @hocuspocus/provider, served by fastify-collab.
//
//   node examples/tiptap/server.js    # PORT (default 3002), HOST, DATA_DIR (default ./data)
//
// Open the URL it prints in two tabs (`?doc=` picks the document, `?name=` your name): each tab is a Tiptap
// editor with StarterKit, Collaboration (the ProseMirror document as the Y.XmlFragment `default`, through
// y-tiptap) and CollaborationCaret (the others' carets and names, through the provider's awareness). The
// server is the plain fastify-collab one, with the SQLite store: the editor is the client's business. The
// page (examples/tiptap/page.js) is bundled by esbuild when the server starts and served from memory.
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { sqlite } from 'fastify-collab/sqlite'
import { pageBundle } from '../build-page.js'
import { serve } from '../serve.js'

const dataDir = resolve(process.env.DATA_DIR ?? 'data')

await serve(async () => {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  await app.register(fastifyCollab, { extensions: [sqlite({ path: join(dataDir, 'tiptap.sqlite') })] })

  const [html, { outputFiles: [bundle] }] = await Promise.all([
    readFile(new URL('index.html', import.meta.url)),
    build({ ...pageBundle, entryPoints: [fileURLToPath(new URL('page.js', import.meta.url))], outfile: 'page.js', write: false })
  ])
  app.get('/', (request, reply) => reply.type('text/html; charset=utf-8').send(html))
  app.get('/page.js', (request, reply) => reply.type('text/javascript; charset=utf-8').send(bundle.contents))

  // One socket for every document the page opens; each frame names its document.
  app.get('/collab', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request)
  })
  return app
}, {
  port: 3002,
  text: (address) => `Open ${address}/ in two tabs to write together in Tiptap (data in ${dataDir})`
})
