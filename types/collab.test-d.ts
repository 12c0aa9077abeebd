// Type tests of `fastify.collab` and of the collaboration hooks.
import Fastify, { type FastifyRequest } from 'fastify'
import { expectTypeOf } from 'expect-type'
import type { WebSocket } from 'ws'
import * as Y from 'yjs'
import fastifyCollab, { CloseCode, type ChangePayload, type Collab, type CollabOrigin, type Extension, type HistoryApi, type Versions } from 'fastify-collab'

const app = Fastify()
await app.register(fastifyCollab, {
  protocol: 'auto',
  debounce: 2000,
  maxDebounce: 10000,
  async onConnect ({ request, documentName, context }) {
    expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
    expectTypeOf(documentName).toEqualTypeOf<string>()
    expectTypeOf(context).toEqualTypeOf<Record<string, unknown>>()
    return { connectedAt: Date.now() }
  },
  async onAuthenticate ({ token, connectionConfig }) {
    expectTypeOf(token).toEqualTypeOf<string | undefined>()
    connectionConfig.readOnly = token === 'reader'
    return { user: 'ada' }
  },
  async onLoadDocument ({ document }) {
    expectTypeOf(document).toMatchTypeOf<Y.Doc>()
    return Y.encodeStateAsUpdate(new Y.Doc())
  },
  async onChange ({ update, documentName }) {
    expectTypeOf(update).toEqualTypeOf<Uint8Array>()
    expectTypeOf(documentName).toEqualTypeOf<string>()
  },
  async onStoreDocument ({ document }) {
    expectTypeOf(Y.encodeStateAsUpdate(document)).toEqualTypeOf<Uint8Array>()
  },
  extensions: [{ priority: 200, async onStoreDocument () {} }]
})
// @ts-expect-error protocol is 'auto' | 'y-websocket' | 'hocuspocus'
await app.register(fastifyCollab, { protocol: 'websocket' })

expectTypeOf(app.collab).toEqualTypeOf<Collab & HistoryApi>()
expectTypeOf(app.collab.versions).toEqualTypeOf<Versions | undefined>()
expectTypeOf(app.collab.handleConnection).parameters.toEqualTypeOf<[WebSocket, FastifyRequest, string?, Record<string, unknown>?]>()
expectTypeOf(app.collab.getDocumentsCount()).toEqualTypeOf<number>()
expectTypeOf(app.collab.getConnectionsCount()).toEqualTypeOf<number>()

app.get<{ Params: { document: string } }>('/collab/:document', async (request, reply) => {
  const socket = await reply.upgrade()
  app.collab.handleConnection(socket, request, request.params.document, { user: 'ada' })
})

const direct = await app.collab.openDirectConnection('notes', { user: 'server' })
await direct.transact((document) => {
  expectTypeOf(document).toMatchTypeOf<Y.Doc>()
  document.getText('body').insert(0, 'hello')
})
await direct.disconnect()

// The collab types are exported for extensions written elsewhere.
await app.register(fastifyCollab, {
  extensions: [{
    priority: 150,
    async onChange (payload: ChangePayload) {
      expectTypeOf(payload.origin).toEqualTypeOf<CollabOrigin | null>()
    }
  } satisfies Extension]
})
expectTypeOf(CloseCode.FORBIDDEN).toEqualTypeOf<4403>()

// The bounds are plain numbers among the options (lib/collab/limits.ts).
await app.register(fastifyCollab, {
  maxDocumentsPerSocket: 10,
  maxDocumentNameLength: 128,
  maxAuthFailures: 5,
  maxAwarenessStateBytes: 8192,
  maxAwarenessStates: 100,
  maxAwarenessClientsPerConnection: 2,
  maxDocumentBytes: 1 << 20,
  maxUnstoredBytes: 1 << 24
})
// @ts-expect-error a bound is a number of bytes, not a string
await app.register(fastifyCollab, { maxDocumentBytes: '10mb' })
expectTypeOf(CloseCode.TRY_AGAIN_LATER).toEqualTypeOf<1013>()
expectTypeOf(CloseCode.TOO_LARGE).toEqualTypeOf<4413>()
