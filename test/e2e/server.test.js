import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { startExampleServer, tempDataDir } from './example-server.js'

// Resolves with the handshake's outcome: 'open', or the HTTP status of the refusal.
async function handshake (url, headers = {}) {
  const socket = new WebSocket(url, { headers })
  socket.on('error', () => {})
  const [event, response] = await Promise.race([
    once(socket, 'open').then(() => ['open']),
    once(socket, 'unexpected-response').then(([, res]) => ['refused', res])
  ])
  if (event === 'open') {
    socket.close()
    await once(socket, 'close')
    return 'open'
  }
  response.resume()
  socket.terminate()
  return response.statusCode
}

test('the example server: the page, /health, and who may open /collab/:document', async (t) => {
  const server = await startExampleServer(t, tempDataDir(t))
  assert.equal(server.logs.filter((entry) => /^Open http/.test(entry.msg)).length, 1, 'one line with the URL to open')

  const page = await fetch(`${server.httpUrl}/`)
  assert.equal(page.status, 200)
  assert.match(await page.text(), /<script type="module" src="\/build\/main.js">/)
  const bundle = await fetch(`${server.httpUrl}/build/main.js`)
  assert.equal(bundle.status, 200)
  assert.match(bundle.headers.get('content-type'), /^text\/javascript/)

  const health = await fetch(`${server.httpUrl}/health`)
  assert.deepEqual(await health.json(), { status: 'ok', documents: 0, connections: 0 })

  const collab = `${server.wsUrl}/collab/notes`
  const host = new URL(server.httpUrl).host
  assert.equal(await handshake(collab), 403, 'no Origin and no token')
  assert.equal(await handshake(collab, { Origin: 'http://evil.example' }), 403, 'a foreign Origin')
  assert.equal(await handshake(`${collab}?token=wrong`), 403, 'a wrong token')
  assert.equal(await handshake(collab, { Origin: `http://${host}` }), 'open', "the page's own origin")
  assert.equal(await handshake(`${collab}?token=demo`), 'open', 'the demo token')
  assert.equal(await handshake(`${server.wsUrl}/collab/not%20a%20name?token=demo`), 400, 'the params schema')

  const plain = await fetch(`${server.httpUrl}/collab/notes?token=demo`)
  assert.equal(plain.status, 426, 'a plain GET is told to upgrade')
  assert.equal(await server.stop(), 0)
})
