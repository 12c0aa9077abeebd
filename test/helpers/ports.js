import { createServer } from 'node:net'
import { once } from './wait.js'

/**
 * A port that was free a moment ago on 127.0.0.1. Another process (the suite runs two files at
 * once) may take it before it is used: a server started on it tries another when it cannot listen
 * (onFreePort).
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

/**
 * Starts a server on a free port, and on another one when the start fails: another process may have
 * taken the port since freePort() found it. Five attempts.
 *
 * @template T
 * @param {(port: number) => Promise<T>} start
 * @returns {Promise<T>} what `start` resolved with; rejects with the last attempt's error.
 */
export async function onFreePort (start) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort())
    } catch (error) {
      if (attempt === 5) throw error
    }
  }
}
