// Authentication with @fastify/jwt in `onAuthenticate`, with tokens that expire.
//
//   JWT_SECRET=… node examples/jwt-auth/server.js      # PORT (default 3001), HOST, TOKEN_TTL (seconds, default 900)
//
// `POST /login` with `{ "user": "alice" }` answers `{ token }`: a JWT for that user, valid TOKEN_TTL seconds
// (a real app checks a password or a session before signing). A HocuspocusProvider sends the token in its
// Auth frame for each document it opens on `/collab`; `onAuthenticate` verifies it with `fastify.jwt.verify`
// and refuses with a reason the provider hands to `authenticationFailed`:
//
//   'token-expired'   a token this server signed, past its `exp`: get a new one and authenticate again
//   'token-invalid'   anything else: a bad signature, a malformed token, no token at all
//
// The client reads only what a refusal means for it: a thrown value's `reason` string (as here), or the
// message of an error with a 4xx `statusCode`; any other error (fast-jwt's own, with its details) reads
// 'permission-denied' there and is logged here in full. The token is checked when a document is opened, as
// in Hocuspocus: a session that opened with a good token stays open past its `exp`. examples/jwt-auth/client.js
// opens a document and authenticates again with a new token when the old one has expired.
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import fastifyCollab from 'fastify-collab'
import { serve } from '../serve.js'

const secret = process.env.JWT_SECRET
if (!secret) throw new Error('set JWT_SECRET: the key that signs and verifies the tokens')
const ttl = Number(process.env.TOKEN_TTL ?? 900)

/** A refusal the Hocuspocus client reads as `reason`. */
function refusal (reason, cause) {
  return Object.assign(new Error(`authentication refused: ${reason}`, { cause }), { reason })
}

await serve(async () => {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  await app.register(fastifyJwt, { secret, sign: { expiresIn: `${ttl}s` } })
  await app.register(fastifyCollab, {
    // `token` is what the provider's `token` option gave (a string, or what its function returned).
    onAuthenticate: async ({ token }) => {
      let claims
      try {
        claims = app.jwt.verify(token)
      } catch (error) {
        throw refusal(error.code === 'FAST_JWT_EXPIRED' ? 'token-expired' : 'token-invalid', error)
      }
      // Merged into the connection's context: every later hook of this session sees the user.
      return { user: claims.sub }
    },
    onChange: ({ documentName, context }) => app.log.debug({ documentName, user: context.user }, 'changed')
  })

  app.post('/login', {
    schema: { body: { type: 'object', properties: { user: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$' } }, required: ['user'] } }
  }, async (request) => ({ token: app.jwt.sign({ sub: request.body.user }) }))

  // One socket for every document the client opens; each document is authenticated on its own.
  app.get('/collab', async (request, reply) => {
    const socket = await reply.upgrade()
    app.collab.handleConnection(socket, request)
  })
  return app
}, {
  port: 3001,
  text: (address) => `Open ${address}/ with POST /login, then a Hocuspocus provider on ${address.replace(/^http/, 'ws')}/collab (tokens valid ${ttl} s)`
})
