import { randomUUID } from 'node:crypto'
import { serialize } from 'node:v8'
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '../close-codes.js'
import {
  FST_COLLAB_CLOSED, FST_COLLAB_CONTEXT_NOT_SERIALIZABLE, FST_COLLAB_SCALE_OUT_UNAVAILABLE, FST_COLLAB_SOCKET_IN_USE,
  FST_COLLAB_SOCKET_VALIDATES_MESSAGES
} from '../errors.js'
import { kCollabConnection, kMessages } from '../symbols.js'
import { Backlog } from './backlog.js'
import { Connection, type ConnectionHost } from './connection.js'
import type { Counts } from './counts.js'
import { DirectSession } from './direct.js'
import { RemoteDirect, type RemoteDirectHost } from './direct-remote.js'
import { LoadedDocument, type DocumentHost } from './document.js'
import { type ConnectionPayload, HookRunner, type LoadPayload } from './hooks.js'
import { type CollabOptions, resolveCollabOptions } from './options.js'
import { ownerTasksOf, runOwnerTask } from './owner-tasks.js'
import { type SessionHost, SocketSession } from './session.js'
import type { Collab, CollabRequest } from './types.js'
import type { CollabHost, Elsewhere, Placement, Router, SessionInit } from './contracts.js'
import { noop } from '../noop.js'

/** What the connection and document modules share: the collab instance's state. */
export interface CollabCore extends DocumentHost, ConnectionHost, CollabHost, SessionHost, RemoteDirectHost {
  closing: boolean
  /** The scale-out, set once at registration when the `scaleOut` option is given. */
  router: Router | null
  /** The counts of the metrics, set once at registration when the `metrics` option is given. */
  counts: Counts | null
  /**
   * Loads a document once for every concurrent caller, and holds it until
   * the caller attaches or releases. With `scaleOut`, a document owned by
   * another instance is not loaded: its owner is returned.
   *
   * @rejects with FST_COLLAB_CLOSED while closing, FST_COLLAB_SCALE_OUT_UNAVAILABLE
   *   when it cannot be placed now, or the load hook's error.
   */
  acquire: (documentName: string, payload: Omit<LoadPayload, 'document' | 'instance' | 'documentName' | 'epoch'>) => Promise<LoadedDocument | Elsewhere>
}

// The payload of the connection hooks that run where the document is (onLoadDocument, connected), from
// what the socket's instance asked: the same whether the socket is here or on another instance.
function connectionPayload (instance: Collab, init: SessionInit): ConnectionPayload<CollabRequest> {
  const { request } = init
  return {
    instance,
    documentName: init.documentName,
    request,
    requestHeaders: request.headers,
    requestParameters: new URLSearchParams(request.url.split('?')[1] ?? ''),
    socketId: request.id,
    context: init.context,
    connectionConfig: { readOnly: init.readOnly, isAuthenticated: true },
    protocol: init.codec.protocol
  }
}

// A document that stepped down while it loaded, or an owner that moved while a session was being opened:
// place again, a few times.
const MAX_PLACEMENTS = 3

/**
 * Builds `fastify.collab`, with `close` (the plugin's preClose hook), which hands every document over, and
 * `destroy` (its onClose hook), which runs onDestroy once the server is closed.
 *
 * @param fastify the root instance; its logger receives every hook error.
 * @param options the whole flat plugin options object.
 * @throws {FST_COLLAB_INVALID_OPTION} on a bad collab option.
 */
export function createCollab (fastify: FastifyInstance, options: CollabOptions = {}): { collab: Collab, core: CollabCore, close: () => Promise<void>, destroy: () => Promise<void> } {
  const resolved = resolveCollabOptions(options)
  const log = fastify.log
  const documents = new Map<string, LoadedDocument>()

  const collab: Collab = {
    handleConnection (socket, request, documentName, context = {}) {
      const served = socket as WebSocket & { [kCollabConnection]?: Connection, [kMessages]?: unknown }
      if (served[kCollabConnection] !== undefined) throw new FST_COLLAB_SOCKET_IN_USE()
      if (served[kMessages] !== undefined) throw new FST_COLLAB_SOCKET_VALIDATES_MESSAGES()
      if (core.closing) {
        socket.close(CloseCode.SERVICE_RESTART, 'Service Restart')
        return
      }
      // The Connection lives as long as its socket's listeners.
      // eslint-disable-next-line no-new
      new Connection(core, socket, request, documentName, context)
    },
    // Where the document is served here, attached to it; elsewhere (scale-out), a client of its owner.
    async openDirectConnection (documentName, context = {}) {
      const document = await core.acquire(documentName, { context })
      if (!(document instanceof LoadedDocument)) {
        core.checkContext(documentName, context)
        return await RemoteDirect.open(core, documentName, context)
      }
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
    log,
    instanceId: randomUUID(),
    async ownerOf (documentName) {
      if (core.router !== null) return await core.router.ownerOf(documentName)
      return documents.has(documentName) ? collab.instanceId : null
    }
  }

  const hooks = new HookRunner(resolved.extensions, resolved.hooks, log)
  const tasks = ownerTasksOf(resolved.extensions)
  const core: CollabCore = {
    instance: collab,
    hooks,
    keepsRequest: (['onChange', 'onStateless', 'onDisconnect', 'beforeHandleMessage', 'onAwarenessUpdate'] as const).some(name => hooks.has(name)),
    options: resolved,
    limits: resolved.limits,
    log,
    documents,
    backlog: new Backlog(resolved.limits.maxUnstoredBytes),
    sockets: new Set(),
    directs: new Set(),
    closing: false,
    router: null,
    counts: null,
    async acquire (documentName, payload) {
      for (let round = 1; ; round++) {
        if (core.closing) throw new FST_COLLAB_CLOSED()
        let document = documents.get(documentName)
        // A document whose lease may have lapsed steps down here rather than take a new client.
        if (document !== undefined && !document.holdsLease()) document = undefined
        if (document === undefined) {
          let placement: Placement | null = null
          if (core.router !== null) {
            placement = await core.router.place(documentName)
            if (!placement.here) return { owner: placement.owner }
            // Another caller may have loaded it while this one placed it.
            document = documents.get(documentName)
          }
          if (document === undefined) {
            document = new LoadedDocument(core, documentName, { ...payload, instance: collab, documentName, epoch: placement?.epoch }, placement?.tenure)
            documents.set(documentName, document)
          }
        }
        document.hold()
        await document.ready
        // It stepped down while it loaded: place it again.
        if (document.isLive) return document
        document.release()
        if (round === MAX_PLACEMENTS) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause: new Error('the document changed owners while it loaded') })
      }
    },
    // THE way a session opens, for a socket here and (through the scale-out) for one on another instance.
    async openSession (socket, init) {
      const payload = connectionPayload(collab, init)
      const target = await core.acquire(init.documentName, payload)
      if (!(target instanceof LoadedDocument)) return target
      if (init.cancelled()) {
        target.release()
        return null
      }
      const session = new SocketSession(core, socket, target, init)
      target.attach(session)
      init.attached(session)
      session.greet()
      hooks.fire('connected', { ...payload, connection: session })
      return session
    },
    async reach (socket, init) {
      for (let round = 1; ; round++) {
        const opened = await core.openSession(socket, init)
        if (opened === null || !('owner' in opened)) return opened
        const session = await (core.router as Router).proxy(socket, opened.owner, init)
        if (session !== null || init.cancelled()) return session
        if (round === MAX_PLACEMENTS) throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(init.documentName, { cause: new Error('the owner kept moving') })
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
    depose (documentName, epoch, reason) {
      documents.get(documentName)?.depose(epoch, reason)
    },
    runTask: (documentName, name, args) => runOwnerTask(tasks, collab, documentName, name, args)
  }

  // A planned restart hands every document over before any client is told to go: each is stored and its
  // lease given back first, so that a client reconnecting at once (1012) finds it claimable, here or on
  // another instance, without waiting for a lease to lapse. Changes that come meanwhile are refused
  // (FST_COLLAB_CLOSED: a Hocuspocus client gets SyncStatus 0); the client keeps them and sends them again
  // once it has reconnected.
  async function close (): Promise<void> {
    core.closing = true
    // Direct connections to other instances end now: their unanswered changes are refused as a socket's are.
    for (const direct of [...core.directs]) direct.close()
    await Promise.all([...documents.values()].map(document => document.shutdown()))
    for (const connection of [...core.sockets]) connection.close(CloseCode.SERVICE_RESTART, 'Service Restart')
    // The sessions served for other instances end with 1012 too, then Redis goes.
    await core.router?.close()
  }

  async function destroy (): Promise<void> {
    await core.hooks.run('onDestroy', { instance: collab }).catch(noop)
  }

  return { collab, core, close, destroy }
}
