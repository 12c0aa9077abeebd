import { test } from 'node:test'
import assert from 'node:assert/strict'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { WebSocket } from 'ws'
import { handshakeRateLimit } from '../../examples/app.js'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'
import { get } from '../helpers/http.js'
import { once, when } from '../helpers/wait.js'

// Resolves with the handshake's outcome: 'open', or the HTTP status of the refusal.
async function handshake (url, headers = {}) {
  const socket = new WebSocket(url, { headers })
  socket.on('error', () => {})
  const [, response] = await when(socket, ['open', 'unexpected-response'], { what: `the answer to a handshake on ${url}` })
  if (response === undefined) {
    socket.close()
    await once(socket, 'close')
    return 'open'
  }
  response.resume()
  socket.terminate()
  return response.statusCode
}

test('the example server: the page, /health, who may open /collab/:document, and /metrics', async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'))
  assert.equal(server.logs.filter((entry) => /^Open http/.test(entry.msg)).length, 1, 'one line with the URL to open')

  const page = await get(`${server.httpUrl}/`)
  assert.equal(page.status, 200)
  assert.match(page.body.toString(), /<script type="module" src="\/build\/main.js">/)
  const bundle = await get(`${server.httpUrl}/build/main.js`)
  assert.equal(bundle.status, 200)
  assert.match(bundle.headers['content-type'], /^(text|application)\/javascript/)

  const health = (await get(`${server.httpUrl}/health`)).json()
  assert.match(health.instanceId, /^[0-9a-f-]{36}$/)
  assert.deepEqual(health, { status: 'ok', instanceId: health.instanceId, documents: 0, connections: 0 })
  const owner = (await get(`${server.httpUrl}/api/owner/notes`)).json()
  assert.deepEqual(owner, { instanceId: health.instanceId, owner: null }, 'nobody owns a document nobody opened')

  const collab = `${server.wsUrl}/collab/notes`
  const host = new URL(server.httpUrl).host
  assert.equal(await handshake(collab), 403, 'no Origin and no token')
  assert.equal(await handshake(collab, { Origin: 'http://evil.example' }), 403, 'a foreign Origin')
  assert.equal(await handshake(`${collab}?token=demo`, { Origin: 'http://evil.example' }), 403, 'a foreign Origin, even with the token (allowedOrigins)')
  assert.equal(await handshake(`${collab}?token=wrong`), 403, 'a wrong token')
  assert.equal(await handshake(collab, { Origin: `http://${host}` }), 'open', "the page's own origin")
  assert.equal(await handshake(`${collab}?token=demo`), 'open', 'the demo token')
  assert.equal(await handshake(`${server.wsUrl}/collab/not%20a%20name?token=demo`), 400, 'the params schema')

  const plain = await get(`${server.httpUrl}/collab/notes?token=demo`)
  assert.equal(plain.status, 426, 'a plain GET is told to upgrade')

  // Prometheus text format: the handshakes above, by outcome, and Node's process metrics.
  const metrics = await get(`${server.httpUrl}/metrics`)
  assert.equal(metrics.status, 200)
  assert.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = metrics.body.toString()
  assert.match(text, /^collab_upgrades_total\{status="101"\} 2$/m)
  assert.match(text, /^collab_upgrades_total\{status="403"\} 4$/m)
  assert.match(text, /^collab_upgrades_total\{status="400"\} 1$/m)
  assert.match(text, /^process_cpu_seconds_total /m)
  assert.doesNotMatch(text, /notes/, 'no document name in a label')
  assert.equal(await server.stop(), 0)
})

test('the page and its bundle: caching headers, a conditional GET, a Range request, gzip and brotli', async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'))
  const bundleUrl = `${server.httpUrl}/build/main.js`

  const page = await get(`${server.httpUrl}/`)
  assert.equal(page.status, 200)
  assert.match(page.headers['content-type'], /^text\/html/)
  assert.equal(page.headers['cache-control'], 'public, max-age=0')
  assert.ok(page.headers.etag, 'an ETag')
  assert.ok(page.headers['last-modified'], 'a Last-Modified')
  assert.equal(page.headers['content-encoding'], undefined, 'no Accept-Encoding, no compression')
  const revalidated = await get(`${server.httpUrl}/`, { headers: { 'if-none-match': page.headers.etag } })
  assert.equal(revalidated.status, 304, 'a reload with the ETag costs a 304')
  assert.equal(revalidated.body.length, 0)

  const plain = await get(bundleUrl)
  assert.equal(plain.status, 200)
  assert.equal(plain.headers['accept-ranges'], 'bytes')
  assert.equal(Number(plain.headers['content-length']), plain.body.length)
  assert.ok(plain.body.length > 100_000, `the bundle has ${plain.body.length} bytes`)

  // A Range answer is never compressed: Content-Range counts the file's own bytes.
  const range = await get(bundleUrl, { headers: { range: 'bytes=100-199', 'accept-encoding': 'gzip, br' } })
  assert.equal(range.status, 206)
  assert.equal(range.headers['content-range'], `bytes 100-199/${plain.body.length}`)
  assert.equal(range.headers['content-encoding'], undefined)
  assert.deepEqual(range.body, plain.body.subarray(100, 200))
  const unsatisfiable = await get(bundleUrl, { headers: { range: `bytes=${plain.body.length}-` } })
  assert.equal(unsatisfiable.status, 416)

  const gzip = await get(bundleUrl, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(gzip.status, 200)
  assert.equal(gzip.headers['content-encoding'], 'gzip')
  assert.match(gzip.headers.vary, /accept-encoding/i)
  assert.equal(gzip.headers.etag, plain.headers.etag)
  assert.ok(gzip.body.length < plain.body.length / 2, `gzip: ${gzip.body.length} of ${plain.body.length} bytes`)
  assert.deepEqual(gunzipSync(gzip.body), plain.body)

  const br = await get(bundleUrl, { headers: { 'accept-encoding': 'gzip, br' } })
  assert.equal(br.headers['content-encoding'], 'br', 'brotli first when both are accepted')
  assert.ok(br.body.length < plain.body.length / 2, `br: ${br.body.length} of ${plain.body.length} bytes`)
  assert.deepEqual(brotliDecompressSync(br.body), plain.body)

  assert.equal((await get(`${server.httpUrl}/missing.js`)).status, 404)
  assert.equal(await server.stop(), 0)
})

test('a client IP past the handshake rate limit gets 429 before the handshake; other routes are not limited', async (t) => {
  const server = await startExampleServer(t, tempDir(t, 'data'))
  const collab = `${server.wsUrl}/collab/limited?token=demo`
  const { max } = handshakeRateLimit
  // Every handshake counts, refused or not: one on a plain GET, one with a wrong token, then
  // upgrades up to the limit, which all open.
  assert.equal((await get(`${server.httpUrl}/collab/limited?token=demo`)).status, 426)
  assert.equal(await handshake(`${server.wsUrl}/collab/limited?token=wrong`), 403)
  for (let i = 2; i < max; i++) assert.equal(await handshake(collab), 'open', `handshake ${i + 1} of ${max}`)

  const socket = new WebSocket(collab)
  socket.on('error', () => {})
  const [, refused] = await when(socket, ['open', 'unexpected-response'], { what: 'the answer to the handshake past the limit' })
  assert.ok(refused, 'the handshake past the limit opened')
  assert.equal(refused.statusCode, 429)
  assert.equal(refused.headers.connection, 'close')
  assert.ok(Number(refused.headers['retry-after']) > 0, `Retry-After: ${refused.headers['retry-after']}`)
  assert.equal(refused.headers['x-ratelimit-limit'], String(max))
  refused.resume()

  const health = await get(`${server.httpUrl}/health`)
  assert.equal(health.status, 200, 'the limit is the WebSocket route\'s only')
  assert.equal(await server.stop(), 0)
})
