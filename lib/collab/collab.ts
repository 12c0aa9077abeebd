import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '../close-codes.js'
import { FST_COLLAB_CLOSED, FST_COLLAB_SOCKET_IN_USE, FST_COLLAB_SOCKET_VALIDATES_MESSAGES } from '../errors.js'
import { kCollabConnection, kMessages } from '../symbols.js'
import { Backlog } from './backlog.js'
import { Connection, type ConnectionHost } from './connection.js'
import { DirectSession } from './direct.js'
import { LoadedDocument, type DocumentHost } from './document.js'
import { HookRunner } from './hooks.js'
import { type CollabOptions, resolveCollabOptions } from './options.js'
import { SocketSession } from './session.js'
import type { Collab } from './types.js'
import { noop } from '../noop.js'

/** What the connection and document modules share: the collab instance's state. */
interface CollabCore extends DocumentHost, ConnectionHost {
  closing: boolean
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
  const log = fastify.log
  const documents = new Map<string, LoadedDocument>()

  const collab: Collab = {
    handleConnection (socket, request, documentName, context = {}) {
      const served = socket as WebSocket & { [kCollabConnection]?: Connection, [kMessages]?: unknown }
      if (served[kCollabConnection] !== undefined) throw new FST_COLLAB_SOCKET_IN_USE()
      if (served[kMessages] !== undefined) throw new FST_COLLAB_SOCKET_VALIDATES_MESSAGES()
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
      const connection = new DirectSession(document, context)
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
          if (attachment instanceof SocketSession) attachment.reset()
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
    backlog: new Backlog(resolved.limits.maxUnstoredBytes),
    closing: false,
    async acquire (documentName, payload) {
      if (core.closing) throw new FST_COLLAB_CLOSED()
      let document = documents.get(documentName)
      if (document === undefined) {
        document = new LoadedDocument(core, documentName, { ...payload, instance: collab, documentName })
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
