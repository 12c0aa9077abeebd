// @y/websocket-server 0.1.1: `ws` on http.Server with its setupWSConnection,
// as its own bin/server.js does, the document named by the path.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'
import { listenRaw } from '../lib/listen.js'

export async function start () {
  const wss = new WebSocketServer({ noServer: true })
  const server = http.createServer((request, response) => response.writeHead(426).end())
  server.on('upgrade', (request, socket, head) => {
    const docName = decodeURIComponent(request.url.split('?')[0].replace(/^\/collab\//, ''))
    wss.handleUpgrade(request, socket, head, (ws) => setupWSConnection(ws, request, { docName }))
  })
  return listenRaw(server, wss)
}
