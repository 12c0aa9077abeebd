// @y/websocket-server 0.1.1: `ws` on http.Server with its setupWSConnection,
// as its own bin/server.js does, the document named by the path. options.seed:
// a file holding a Yjs update applied to the document options.seedDocument
// when it is created (its persistence hook, bindState).
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { setupWSConnection, setPersistence } from '@y/websocket-server/utils'
import { listenRaw } from '../lib/listen.js'

export async function start (options = {}) {
  if (options.seed) {
    setPersistence({
      provider: null,
      bindState: (docName, doc) => { if (docName === options.seedDocument) Y.applyUpdate(doc, readFileSync(options.seed)) },
      writeState: async () => {}
    })
  }
  const wss = new WebSocketServer({ noServer: true })
  const server = http.createServer((request, response) => response.writeHead(426).end())
  server.on('upgrade', (request, socket, head) => {
    const docName = decodeURIComponent(request.url.split('?')[0].replace(/^\/collab\//, ''))
    wss.handleUpgrade(request, socket, head, (ws) => setupWSConnection(ws, request, { docName }))
  })
  return listenRaw(server, wss)
}
