import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '../close-codes.js'
import { FST_COLLAB_CLOSED } from '../errors.js'
import { Connection } from './connection.js'
import { DirectConnection } from './direct.js'
import { CollabDocument, type DocumentHost } from './document.js'
import { type HookContext, HookRunner, type LoadPayload } from './hooks.js'
import { type CollabOptions, resolveCollabOptions } from './options.js'
import { Session } from './session.js'
import { noop } from '../noop.js'

export type { CollabOptions } from './options.js'
export type { CollabDocument } from './document.js'
export type { DirectConnection } from './direct.js'
export type { Session } from './session.js'
export type * from './hooks.js'
export { CloseCode } from '../close-codes.js'

/** `fastify.collab`: the Yjs collaboration backend. */
export interface Collab {
  /**
   * Serves an upgraded socket: y-websocket or Hocuspocus, told apart by the
   * first frame (see the `protocol` option). Never throws; failures close
   * the socket with a documented close code.
   *
   * @param socket the `ws` WebSocket from `reply.upgrade()`
   * @param request the upgraded request, passed to every hook
   * @param documentName the document a y-websocket socket binds to (required
   *   for y-websocket); for Hocuspocus, the only name allowed on this socket
   * @param context the initial hook context, copied per document. Default `{}`.
   */
  handleConnection: (socket: WebSocket, request: FastifyRequest, documentName?: string, context?: HookContext) => void
  /**
   * Opens server-side access to a document, loading it if needed.
   *
   * @rejects with FST_COLLAB_CLOSED while `fastify.close()` runs, or with
   *   the onLoadDocument error.
   */
  openDirectConnection: (documentName: string, context?: HookContext) => Promise<DirectConnection>
  /** Loaded documents, including those still loading. */
  getDocumentsCount: () => number
  /** Socket sessions plus direct connections over every document. */
  getConnectionsCount: () => number
  /** Closes the sockets on one document, or on all, with 4205 (Reset Connection): clients reconnect. */
  closeConnections: (documentName?: string) => void
  /** The loaded documents by name. */
  readonly documents: ReadonlyMap<string, CollabDocument>
  /** The root Fastify logger, so extensions can log outside any request (hook payloads carry `instance`). */
  readonly log: FastifyBaseLogger
}

/** What the connection and document modules share. */
export interface CollabCore extends DocumentHost {
  closing: boolean
  /** Whether a hook that runs after the handshake and sees the request is registered. */
  readonly keepsRequest: boolean
  /**
   * Loads a document once for every concurrent caller, and holds it until
   * the caller attaches or releases.
   *
   * @rejects with FST_COLLAB_CLOSED while closing, or the load hook's error.
   */
  acquire: (documentName: string, payload: Omit<LoadPayload, 'document' | 'instance' | 'documentName'>) => Promise<CollabDocument>
}

/**
 * Builds `fastify.collab` and registers its onClose hook, which stores every
 * changed document, unloads them, then runs onDestroy.
 *
 * @param fastify the root instance; its logger receives every hook error.
 * @param options the whole flat plugin options object.
 * @throws {FST_COLLAB_INVALID_OPTION} on a bad collab option.
 */
export function createCollab (fastify: FastifyInstance, options: CollabOptions = {}): Collab {
  const resolved = resolveCollabOptions(options)
  const log: FastifyBaseLogger = fastify.log
  const documents = new Map<string, CollabDocument>()

  const collab: Collab = {
    handleConnection (socket, request, documentName, context = {}) {
      if (core.closing) {
        socket.close(CloseCode.GOING_AWAY, 'Going Away')
        return
      }
      // The Connection lives as long as its socket's listeners.
      // eslint-disable-next-line no-new
      new Connection(core, socket, request, documentName, context)
    },
    async openDirectConnection (documentName, context = {}) {
      const document = await core.acquire(documentName, { context })
      const connection = new DirectConnection(document, context)
      document.attach(connection)
      return connection
    },
    getDocumentsCount: () => documents.size,
    getConnectionsCount () {
      let count = 0
      for (const document of documents.values()) count += document.getConnectionsCount()
      return count
    },
    closeConnections (documentName) {
      const targets = documentName === undefined ? [...documents.values()] : [documents.get(documentName)]
      for (const document of targets) {
        for (const attachment of document?.connections ?? []) {
          if (attachment instanceof Session) attachment.reset()
        }
      }
    },
    documents,
    log
  }

  const hooks = new HookRunner(resolved.extensions, resolved.hooks, log)
  const core: CollabCore = {
    instance: collab,
    hooks,
    keepsRequest: (['onChange', 'onStateless', 'onDisconnect', 'beforeHandleMessage', 'onAwarenessUpdate'] as const).some(name => hooks.has(name)),
    options: resolved,
    log,
    documents,
    closing: false,
    async acquire (documentName, payload) {
      if (core.closing) throw new FST_COLLAB_CLOSED()
      let document = documents.get(documentName)
      if (document === undefined) {
        document = new CollabDocument(core, documentName, { ...payload, instance: collab, documentName })
        documents.set(documentName, document)
      }
      document.hold()
      await document.ready
      return document
    }
  }

  fastify.addHook('onClose', async () => {
    core.closing = true
    await Promise.all([...documents.values()].map(document => document.shutdown()))
    await core.hooks.run('onDestroy', { instance: collab }).catch(noop)
  })

  return collab
}
