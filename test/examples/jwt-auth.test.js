import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { openDocument } from '../../examples/jwt-auth/client.js'
import { startExampleServer } from '../helpers/example-server.js'
import { synced } from '../helpers/server.js'
import { untilDocs, when } from '../helpers/wait.js'

const script = fileURLToPath(new URL('../../examples/jwt-auth/server.js', import.meta.url))
const secret = 'a secret for the test'

test('examples/jwt-auth: a valid token syncs, an expired one is refused with its reason, and the client logs in again and syncs', async (t) => {
  const server = await startExampleServer(t, undefined, { script, env: { JWT_SECRET: secret } })
  const url = `${server.wsUrl}/collab`
  const login = async (user) => {
    const response = await fetch(`${server.httpUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
      signal: AbortSignal.timeout(5000)
    })
    assert.equal(response.status, 200)
    return (await response.json()).token
  }
  const providers = []
  t.after(() => { for (const provider of providers) provider.destroy() })
  const open = (options) => {
    const provider = openDocument({ url, name: 'notes', ...options, provider: { document: new Y.Doc(), WebSocketPolyfill: WebSocket } })
    providers.push(provider)
    const failures = []
    provider.on('authenticationFailed', ({ reason }) => failures.push(reason))
    return { provider, failures, text: provider.document.getText('notes') }
  }

  const alice = open({ login: () => login('alice') })
  await synced(alice.provider)
  alice.text.insert(0, 'Alice, with a fresh token.')
  assert.deepEqual(alice.failures, [])

  // A token this server's secret signed an hour ago, expired a minute ago: what a client holds after a
  // laptop slept. The server refuses it as expired; the client logs in and authenticates again.
  const signer = Fastify()
  await signer.register(fastifyJwt, { secret })
  const now = Math.floor(Date.now() / 1000)
  const expired = signer.jwt.sign({ sub: 'bob', iat: now - 3600, exp: now - 60 })
  const tokens = [expired]
  const bob = open({ login: async () => tokens.shift() ?? login('bob') })
  await when(bob.provider, 'authenticationFailed', { check: () => bob.failures.length > 0, what: 'the expired token to be refused' })
  assert.deepEqual(bob.failures, ['token-expired'])
  await synced(bob.provider)
  await untilDocs([bob.provider.document], () => bob.text.toString() === 'Alice, with a fresh token.', { what: 'Bob to see Alice\'s text' })
  bob.text.insert(bob.text.length, ' Bob, with a refreshed one.')
  await untilDocs([alice.provider.document], () => alice.text.toString() === 'Alice, with a fresh token. Bob, with a refreshed one.', { what: 'Alice to see Bob\'s text' })

  // Not a token of this server: refused, and no new login helps.
  const eve = open({ login: async () => 'not.a.jwt' })
  await when(eve.provider, 'authenticationFailed', { check: () => eve.failures.length > 0, what: 'a forged token to be refused' })
  assert.deepEqual(eve.failures, ['token-invalid'])
  assert.equal(eve.provider.isSynced, false)

  for (const provider of providers) provider.destroy()
  assert.equal(await server.stop(), 0)
})
