// The limit: `ws` on a bare http.Server, with the token check and the 401
// written by hand.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { echo } from './shape.js'
import { listenRaw } from '../lib/listen.js'

function reject (socket, status, text) {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

export async function start () {
  const wss = new WebSocketServer({ noServer: true })
  const server = http.createServer((request, response) => response.writeHead(426).end())
  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => socket.destroy())
    const [path, query = ''] = request.url.split('?', 2)
    if (path !== '/echo') return reject(socket, 404, 'Not Found')
    const token = new URLSearchParams(query).get('token')
    if (token === null) return reject(socket, 400, 'Bad Request')
    if (token !== 'ok') return reject(socket, 401, 'Unauthorized')
    wss.handleUpgrade(request, socket, head, echo)
  })
  return listenRaw(server, wss)
}
