// Starts a stock Hocuspocus Server (its own http.Server and upgrade handling)
// on 127.0.0.1, port 0, with no extensions: the anchors' default deployment.
// options.seed: a file holding a Yjs update that onLoadDocument returns for the
// document options.seedDocument (the join storm's large document).
import { readFileSync } from 'node:fs'

export async function startHocuspocus (Server, options = {}) {
  const seed = options.seed
    ? { onLoadDocument: async ({ documentName }) => documentName === options.seedDocument ? readFileSync(options.seed) : undefined }
    : {}
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false, ...seed })
  await server.listen()
  return { port: server.httpServer.address().port, close: () => server.destroy() }
}
