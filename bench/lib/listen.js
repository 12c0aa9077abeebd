import { once } from 'node:events'

/**
 * Listens on 127.0.0.1, port 0, and returns the bench server handle: its port,
 * and a close that terminates every WebSocket of `wss` first.
 * @param {import('node:http').Server} server
 * @param {import('ws').WebSocketServer} wss
 */
export async function listenRaw (server, wss) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: server.address().port,
    close: () => {
      for (const socket of wss.clients) socket.terminate()
      return new Promise((resolve) => server.close(resolve))
    }
  }
}
