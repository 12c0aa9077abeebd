import { randomUUID } from 'node:crypto'
import { serialize } from 'node:v8'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '../close-codes.js'
import { FST_COLLAB_CLOSED, FST_COLLAB_CONTEXT_NOT_SERIALIZABLE, FST_COLLAB_NOT_OWNER, FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import { Connection } from './connection.js'
import { DirectConnection } from './direct.js'
import { CollabDocument, type DocumentHost, fencedEpoch } from './document.js'
import { type ConnectionPayload, type HookContext, HookRunner, type LoadPayload } from './hooks.js'
import { type CollabOptions, resolveCollabOptions } from './options.js'
import type { Codec } from './protocol/codec.js'
import type { Router } from './router.js'
import { type AttachedSession, Session, type SessionSocket } from './session.js'
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
  /** This instance's id, unique per process start: with `scaleOut`, the name other instances know it by. */
  readonly instanceId: string
  /**
   * The instance that owns a document: with `scaleOut`, the live holder of its lease (it may be this one);
   * without, this instance when the document is loaded here. Resolves null when nobody holds it.
   * @rejects with node-redis's error when Redis cannot be reached.
   */
  ownerOf: (documentName: string) => Promise<string | null>
}

/** A document served by another instance (scale-out). */
export interface Elsewhere {
  readonly owner: string
}

/** What the connection and document modules share. */
export interface CollabCore extends DocumentHost {
  closing: boolean
  /** The scale-out, set once at registration when the `scaleOut` option is given. */
  router: Router | null
  /** Whether a hook that runs after the handshake and sees the request is registered. */
  readonly keepsRequest: boolean
  /**
   * Loads a document once for every concurrent caller, and holds it until
   * the caller attaches or releases. With `scaleOut`, a document owned by
   * another instance is not loaded: its owner is returned.
   *
   * @rejects with FST_COLLAB_CLOSED while closing, FST_COLLAB_SCALE_OUT_UNAVAILABLE
   *   when it cannot be placed, or the load hook's error.
   */
  acquire: (documentName: string, payload: Omit<LoadPayload, 'document' | 'instance' | 'documentName' | 'epoch'>) => Promise<CollabDocument | Elsewhere>
  /**
   * For a socket: the document held (as acquire), or, when another instance
   * owns it, a session opened there.
   */
  reach: (socket: SessionSocket, payload: ConnectionPayload, address: string, codec: Codec) => Promise<CollabDocument | AttachedSession>
  /**
   * With `scaleOut`, refuses a context that cannot cross instances.
   * @throws FST_COLLAB_CONTEXT_NOT_SERIALIZABLE
   */
  checkContext: (documentName: string, context: HookContext) => void
  /** Scale-out: this instance lost a document; it is deposed (see CollabDocument). */
  depose: (documentName: string) => void
}

// A load refused by the store's fence (Redis handed out a low epoch), or an
// owner that moved while a session was being opened: place again, a few times.
const MAX_PLACEMENTS = 3

/**
 * Builds `fastify.collab` and registers its onClose hook, which stores every
 * changed document, unloads them, then runs onDestroy.
 *
 * @param fastify the root instance; its logger receives every hook error.
 * @param options the whole flat plugin options object.
 * @throws {FST_COLLAB_INVALID_OPTION} on a bad collab option.
 */
export function createCollab (fastify: FastifyInstance, options: CollabOptions = {}): { collab: Collab, core: CollabCore } {
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
      if (!(document instanceof CollabDocument)) throw new FST_COLLAB_NOT_OWNER(documentName, document.owner)
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
    log,
    instanceId: randomUUID(),
    async ownerOf (documentName) {
      if (core.router !== null) return await core.router.ownerOf(documentName)
      return documents.has(documentName) ? collab.instanceId : null
    }
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
    router: null,
    async acquire (documentName, payload) {
      for (let round = 1; ; round++) {
        if (core.closing) throw new FST_COLLAB_CLOSED()
        let document = documents.get(documentName)
        if (document === undefined) {
          let epoch: number | undefined
          if (core.router !== null) {
            const placement = await core.router.place(documentName)
            if (!placement.here) return { owner: placement.owner }
            epoch = placement.epoch
            // Another caller may have loaded it while this one placed it.
            document = documents.get(documentName)
          }
          if (document === undefined) {
            document = new CollabDocument(core, documentName, { ...payload, instance: collab, documentName, epoch })
            documents.set(documentName, document)
          }
        }
        document.hold()
        try {
          await document.ready
        } catch (error) {
          const higher = fencedEpoch(error)
          if (higher === null || document.epoch === null || core.router === null || round === MAX_PLACEMENTS) throw error
          await core.router.fenced(documentName, document.epoch, higher)
          continue
        }
        // Deposed while it loaded: another instance owns it now.
        if (document.isLive) return document
        document.release()
        if (round === MAX_PLACEMENTS) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause: new Error('the document changed owners while it loaded') })
      }
    },
    async reach (socket, payload, address, codec) {
      const { documentName, context, connectionConfig, request } = payload
      for (let round = 1; ; round++) {
        const target = await core.acquire(documentName, payload)
        if (target instanceof CollabDocument || core.router === null) return target as CollabDocument
        const session = await core.router.proxy(socket, target.owner, { documentName, address, codec, readOnly: connectionConfig.readOnly, context, request })
        if (session !== null) return session
        if (round === MAX_PLACEMENTS) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause: new Error('the owner kept moving') })
      }
    },
    checkContext (documentName, context) {
      if (core.router === null) return
      try {
        serialize(context)
      } catch (cause) {
        throw new FST_COLLAB_CONTEXT_NOT_SERIALIZABLE(documentName, { cause })
      }
    },
    depose (documentName) {
      documents.get(documentName)?.depose()
    }
  }

  fastify.addHook('onClose', async () => {
    core.closing = true
    await Promise.all([...documents.values()].map(document => document.shutdown()))
    // Every lease is back; the sessions served for other instances end, then Redis goes.
    await core.router?.close()
    await core.hooks.run('onDestroy', { instance: collab }).catch(noop)
  })

  return { collab, core }
}
