import { get as httpGet } from 'node:http'

/**
 * GETs `url` with node:http, which (unlike fetch) neither asks for nor undoes a Content-Encoding: the
 * body is the bytes on the wire. The whole body is read: a response left half-read keeps its
 * connection busy, and a server's close() waits for it.
 *
 * @param {string} url
 * @param {{ headers?: Record<string, string>, timeout?: number }} [options] `timeout` in ms for the
 *   whole exchange, default 10000.
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: Buffer, json: () => any }>}
 *   rejects with an Error naming `url` after `timeout` ms.
 */
export async function get (url, { headers = {}, timeout = 10_000 } = {}) {
  const signal = AbortSignal.timeout(timeout)
  try {
    const response = await new Promise((resolve, reject) => httpGet(url, { headers, signal }, resolve).on('error', reject))
    const chunks = []
    for await (const chunk of response) chunks.push(chunk)
    const body = Buffer.concat(chunks)
    return { status: response.statusCode, headers: response.headers, body, json: () => JSON.parse(body.toString()) }
  } catch (error) {
    if (signal.aborted) throw new Error(`timed out after ${timeout} ms waiting for GET ${url}`)
    throw error
  }
}
