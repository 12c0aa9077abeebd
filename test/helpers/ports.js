import { createServer } from 'node:net'
import { once } from './wait.js'

/**
 * A port that was free a moment ago on 127.0.0.1. Another process (the suite runs two files at
 * once) may take it before it is used: a server started on it tries another when it cannot listen.
 *
 * @returns {Promise<number>}
 */
export async function freePort () {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}
