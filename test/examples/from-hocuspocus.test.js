import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'
import { get } from '../helpers/http.js'
import { missing, redisServer } from '../helpers/needs.js'
import { startRedis } from '../helpers/redis.js'
import { connectClients, synced } from '../helpers/server.js'
import { untilDocs, waitFor, when } from '../helpers/wait.js'

const script = fileURLToPath(new URL('../../examples/from-hocuspocus/server.js', import.meta.url))

/** Unchanged Hocuspocus clients: a provider on the server's root URL, with a token. */
function clientsOf (t, server) {
  const clients = connectClients(server.wsUrl)
  t.after(() => clients.destroyAll())
  return (token) => {
    const provider = clients.hocus('notes', { token })
    return { provider, text: provider.document.getText('content') }
  }
}

test('examples/from-hocuspocus: unchanged HocuspocusProviders edit together; a wrong token reads permission-denied; onChange and onStoreDocument see the user and the text; SQLite keeps it across a restart', async (t) => {
  const dataDir = tempDir(t, 'data')
  const server = await startExampleServer(t, dataDir, { script })
  const connect = clientsOf(t, server)
  const alice = connect('alice-token')
  const bob = connect('bob-token')
  await Promise.all([synced(alice.provider), synced(bob.provider)])
  alice.text.insert(0, 'Hello from Alice.')
  await untilDocs([bob.provider.document], () => bob.text.toString() === 'Hello from Alice.', { what: 'Bob to see Alice\'s text' })
  bob.text.insert(bob.text.length, ' And Bob.')
  await untilDocs([alice.provider.document], () => alice.text.toString() === 'Hello from Alice. And Bob.', { what: 'Alice to see Bob\'s text' })

  const eve = connect('wrong-token')
  const [{ reason }] = await when(eve.provider, 'authenticationFailed', { what: 'the wrong token to be refused' })
  assert.equal(reason, 'permission-denied')

  // The last client leaves: the document is stored at once, and onStoreDocument keeps its text.
  alice.provider.destroy()
  bob.provider.destroy()
  eve.provider.destroy()
  let stored
  await waitFor(async () => (stored = await get(`${server.httpUrl}/documents/notes`)).status === 200, { timeout: 5000, interval: 50, what: 'onStoreDocument after the last client left' })
  assert.deepEqual(stored.json(), { name: 'notes', text: 'Hello from Alice. And Bob.', lastEditedBy: 'bob' })
  assert.equal(await server.stop(), 0)

  const again = await startExampleServer(t, dataDir, { script })
  const carol = clientsOf(t, again)('alice-token')
  await synced(carol.provider)
  assert.equal(carol.text.toString(), 'Hello from Alice. And Bob.', 'the SQLite store kept it')
  carol.provider.destroy()
  assert.equal(await again.stop(), 0)
})

test('examples/from-hocuspocus with REDIS_URL: two instances on one DATA_DIR, a client on each, edit together (the Redis extension\'s job)', { skip: missing(redisServer) }, async (t) => {
  const redis = await startRedis(t)
  const dataDir = tempDir(t, 'data')
  const [one, two] = await Promise.all([0, 1].map(() => startExampleServer(t, dataDir, { script, env: { REDIS_URL: redis.url } })))
  const alice = clientsOf(t, one)('alice-token')
  await synced(alice.provider)
  const bob = clientsOf(t, two)('bob-token')
  await synced(bob.provider)
  alice.text.insert(0, 'On the first instance.')
  await untilDocs([bob.provider.document], () => bob.text.toString() === 'On the first instance.', { what: 'Bob, on the second instance, to see Alice\'s text' })
  bob.text.insert(bob.text.length, ' On the second.')
  await untilDocs([alice.provider.document], () => alice.text.toString() === 'On the first instance. On the second.', { what: 'Alice to see Bob\'s text' })
  alice.provider.destroy()
  bob.provider.destroy()
  assert.deepEqual(await Promise.all([one.stop(), two.stop()]), [0, 0])
})
