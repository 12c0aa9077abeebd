import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Collab, CollabDocument, CollabOrigin, CollabRequest, HookContext, Session } from './types.js'
import { hookChannel, type HookTrace } from '../diagnostics.js'
import { HOOK_NAMES, type HookName } from '../names.js'
import { noop } from '../noop.js'

/**
 * The hooks of fastify-collab. Names and meaning follow Hocuspocus 4
 * (`@hocuspocus/server` `src/types.ts`), with the Fastify `request` added.
 */

export type { HookContext } from './types.js'
export type { HookName } from '../names.js'

/** Per-connection settings a hook may change. */
export interface ConnectionConfig {
  /** When true, the connection's updates are not applied (a Hocuspocus client gets SyncStatus 0). Default false. */
  readOnly: boolean
  /** True once onAuthenticate has resolved. */
  isAuthenticated: boolean
}

/**
 * What every connection-bound hook receives. `Request` is `FastifyRequest` for the connection hooks, which run
 * where the socket is, and {@link CollabRequest} for those that run on the document's owner (scale-out).
 */
export interface ConnectionPayload<Request extends CollabRequest = FastifyRequest> {
  instance: Collab
  documentName: string
  /** The Fastify request that was upgraded (a RemoteRequest on the owner of a proxied session). */
  request: Request
  requestHeaders: FastifyRequest['headers']
  requestParameters: URLSearchParams
  /** The request id, unique per socket. */
  socketId: string
  context: HookContext
  connectionConfig: ConnectionConfig
  /** The detected wire format. */
  protocol: 'y-websocket' | 'hocuspocus'
}

export interface AuthenticatePayload extends ConnectionPayload {
  /** The Hocuspocus token; `undefined` for y-websocket clients, which send none. */
  token: string | undefined
  /** The provider's version, sent by Hocuspocus v4 providers only. */
  providerVersion: string | undefined
}

export interface ConnectedPayload extends ConnectionPayload<CollabRequest> {
  connection: Session
}

/** onLoadDocument / afterLoadDocument. The connection fields are absent for a direct connection. */
export interface LoadPayload extends Partial<Omit<ConnectionPayload<CollabRequest>, 'instance' | 'documentName' | 'context'>> {
  instance: Collab
  documentName: string
  document: CollabDocument
  context: HookContext
  /**
   * With `scaleOut`, the fencing epoch under which this instance owns the document: a storage extension
   * records it (`CollabStorage.claim`) and writes under it. `undefined` on a single instance.
   */
  epoch?: number
}

export interface ChangePayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  /**
   * The applied Yjs update (v1): the transaction's, or, when one event-loop turn applied several
   * connections' Update frames in one transaction, this connection's own (docs/collab.md, "Acknowledgement
   * after onChange"); `document` then holds the whole turn.
   */
  update: Uint8Array
  /** The origin of this change: a Session, a DirectConnection, or a remote source. */
  origin: CollabOrigin | null
  /** The same as `origin`, under Hocuspocus's name. */
  transactionOrigin: CollabOrigin | null
  /** The context of the connection that made the change, or `{}`. */
  context: HookContext
  request: CollabRequest | undefined
  /** The request id of the socket that made the change, if a socket did. */
  socketId: string | undefined
  clientsCount: number
}

export interface StorePayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  /** The context of the connection that made the last change, or `{}`. */
  context: HookContext
  /** The same as `context`, under Hocuspocus's name. */
  lastContext: HookContext
  /** The origin of the last change (Hocuspocus's name). */
  lastTransactionOrigin: CollabOrigin | null
  clientsCount: number
}

export interface AwarenessPayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  awareness: Awareness
  added: number[]
  updated: number[]
  removed: number[]
  origin: CollabOrigin | null
  /** Every current state, as `{ clientId, ...state }`. */
  states: Array<{ clientId: number } & Record<string, unknown>>
  context: HookContext
  /** The request of the connection that sent the update; undefined for other origins. */
  request: CollabRequest | undefined
  /** That connection's request id; undefined for other origins. */
  socketId: string | undefined
}

export interface MessagePayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  connection: Session
  /** The raw frame, as received. */
  update: Uint8Array
  context: HookContext
  /** Always set: registering this hook keeps the request. */
  request: CollabRequest | undefined
  socketId: string
}

export interface StatelessPayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  connection: Session
  payload: string
  context: HookContext
  /** Always set: registering this hook keeps the request. */
  request: CollabRequest | undefined
}

export interface DisconnectPayload {
  instance: Collab
  documentName: string
  document: CollabDocument
  context: HookContext
  request: CollabRequest | undefined
  socketId: string | undefined
  /** Connections left on the document. */
  clientsCount: number
}

export interface UnloadPayload {
  instance: Collab
  documentName: string
  document: CollabDocument
}

export interface AfterUnloadPayload {
  instance: Collab
  documentName: string
  /**
   * The document that unloaded (destroyed by now). The hook may run after the same name was loaded again:
   * an extension that keeps state per load compares `document` by identity (not in Hocuspocus's payload).
   */
  document: CollabDocument
}

export interface DestroyPayload {
  instance: Collab
}

/**
 * Every hook, by name. Each may be async and is awaited. A throw stops the
 * chain; what it then means is given per hook.
 */
export interface Hooks extends Partial<Record<HookName, (payload: never) => unknown>> {
  /** A client asks for a document. Return an object to merge into `context`; throw to refuse (PermissionDenied, 4403 for y-websocket). */
  onConnect?: (payload: ConnectionPayload) => unknown
  /** Check the token. Return an object to merge into `context`; throw to refuse, the error's message is the reason sent. */
  onAuthenticate?: (payload: AuthenticatePayload) => unknown
  /** The connection is authenticated and attached to the loaded document. A throw is logged. */
  connected?: (payload: ConnectedPayload) => unknown
  /** Fill the new document: return a `Y.Doc` or a Yjs update (`Uint8Array`), or mutate `document`. A throw denies every waiting connection and leaves nothing behind. */
  onLoadDocument?: (payload: LoadPayload) => Y.Doc | Uint8Array | undefined | null | void | Promise<Y.Doc | Uint8Array | undefined | null | void>
  /** The document is loaded. A throw fails the load like onLoadDocument. */
  afterLoadDocument?: (payload: LoadPayload) => unknown
  /**
   * An update was applied (never for changes made during the load): once per transaction, or, for a turn's Update
   * frames applied together, once per run of one connection's updates in a transaction, in order. Awaited: a Hocuspocus client's
   * SyncStatus waits for it.
   * Unlike the other hooks, every onChange runs even when an earlier one throws, so a failing extension never keeps
   * the store from logging the update. Each throw is logged and the client gets SyncStatus 0.
   */
  onChange?: (payload: ChangePayload) => unknown
  /** Persist the document. Debounced and serialised per document; a throw keeps the document loaded and retries with backoff. */
  onStoreDocument?: (payload: StorePayload) => unknown
  /** The store succeeded. A throw counts as a failed store. */
  afterStoreDocument?: (payload: StorePayload) => unknown
  /** Awareness changed or was renewed. A throw is logged. */
  onAwarenessUpdate?: (payload: AwarenessPayload) => unknown
  /** Before a frame of an attached connection is handled. A throw closes that connection with 4403. */
  beforeHandleMessage?: (payload: MessagePayload) => unknown
  /** A Stateless (type 5) message arrived from a Hocuspocus client. A throw is logged. */
  onStateless?: (payload: StatelessPayload) => unknown
  /** A connection left a document. A throw is logged. */
  onDisconnect?: (payload: DisconnectPayload) => unknown
  /**
   * The document is idle (no connection) and stored, and is about to unload.
   * A throw vetoes the unload: the document stays loaded, and is asked again
   * only when it next becomes idle, i.e. after the next disconnect, or after
   * the store that follows a later change (there is no timer). With nobody
   * attached and no change, a vetoed document stays loaded until
   * `fastify.close()`, which unloads it without asking. No store starts
   * while this hook runs: a change meanwhile is stored after it, and the
   * document then unloads only once that store succeeded.
   */
  beforeUnloadDocument?: (payload: UnloadPayload) => unknown
  /** The document was unloaded. A throw is logged. */
  afterUnloadDocument?: (payload: AfterUnloadPayload) => unknown
  /** `fastify.close()` has stored every document. A throw is logged. */
  onDestroy?: (payload: DestroyPayload) => unknown
}

/** A group of hooks with a priority (default 100; higher runs first, as in Hocuspocus). */
export interface Extension extends Hooks {
  priority?: number
}

type Payload<K extends HookName> = Parameters<NonNullable<Hooks[K]>>[0]

// A refusal by an auth hook is an expected outcome, not a server fault.
const QUIET_HOOKS = new Set<HookName>(['onConnect', 'onAuthenticate', 'beforeUnloadDocument'])

/**
 * Runs hook chains. Every failure of every hook is logged here, once, with
 * the document name; callers only decide what a failure means.
 */
type Chain = Array<(payload: never) => unknown>

// What run() returns when no hook of the name is registered.
const DONE = Promise.resolve()

/** The trace context of one hook chain: every payload carries `instance`, most a `documentName`. */
function traceOf (hook: HookName, payload: unknown): HookTrace {
  const { instance, documentName } = payload as { instance: Collab, documentName?: string }
  return { instance, hook, documentName }
}

/** @internal */
export class HookRunner {
  private readonly chains = new Map<HookName, Chain>()

  /**
   * @param extensions sorted by `priority` (default 100), higher first; a
   *   stable sort keeps the given order among equals.
   * @param ownHooks the top-level option hooks, which run last.
   */
  constructor (extensions: readonly Extension[], ownHooks: Hooks, private readonly log: FastifyBaseLogger) {
    const ordered = [...extensions].sort((a, b) => (b.priority ?? 100) - (a.priority ?? 100))
    ordered.push(ownHooks)
    for (const name of HOOK_NAMES) {
      const chain = ordered.flatMap(extension => {
        const hook = extension[name]
        return typeof hook === 'function' ? [hook.bind(extension) as (payload: never) => unknown] : []
      })
      if (chain.length > 0) this.chains.set(name, chain)
    }
  }

  /** Whether any hook of this name is registered; lets hot paths skip building payloads. */
  has (name: HookName): boolean {
    return this.chains.has(name)
  }

  /**
   * Runs every hook of `name` in order, awaiting each. `onResult` sees each
   * hook's return value before the next hook runs. Traced on
   * `fastify-collab:hook` when anyone listens.
   *
   * @rejects with the first hook's error, after logging it.
   */
  run<K extends HookName> (name: K, payload: Payload<K>, onResult?: (result: unknown) => void): Promise<void> {
    const chain = this.chains.get(name)
    if (chain === undefined) return DONE
    if (!hookChannel.hasSubscribers) return this.runChain(chain, name, payload, onResult)
    return hookChannel.tracePromise(this.runChain, traceOf(name, payload), this, chain, name, payload, onResult)
  }

  private async runChain (chain: Chain, name: HookName, payload: unknown, onResult: ((result: unknown) => void) | undefined): Promise<void> {
    for (let i = 0; i < chain.length; i++) {
      try {
        const result = await chain[i](payload as never)
        // Inside the try: what the caller does with a result (e.g. apply an
        // update onLoadDocument returned) fails as that hook's failure.
        onResult?.(result)
      } catch (error) {
        this.logFailure(name, payload, error)
        throw error
      }
    }
  }

  /**
   * Runs every hook of `name` in order, awaiting each, whatever the others
   * do: onChange, where a failing extension must not keep the store from
   * logging the update. Traced like {@link run}.
   *
   * @rejects with the first hook's error once every hook has run, after logging each failure once.
   */
  runAll<K extends HookName> (name: K, payload: Payload<K>): Promise<void> {
    const chain = this.chains.get(name)
    if (chain === undefined) return DONE
    if (!hookChannel.hasSubscribers) return this.runWhole(chain, name, payload)
    return hookChannel.tracePromise(this.runWhole, traceOf(name, payload), this, chain, name, payload)
  }

  private async runWhole (chain: Chain, name: HookName, payload: unknown): Promise<void> {
    let failed = false
    let first: unknown
    for (let i = 0; i < chain.length; i++) {
      try {
        await chain[i](payload as never)
      } catch (error) {
        this.logFailure(name, payload, error)
        if (!failed) first = error
        failed = true
      }
    }
    if (failed) throw first
  }

  private logFailure (name: HookName, payload: unknown, error: unknown): void {
    const documentName = (payload as { documentName?: string }).documentName
    const log = (payload as { request?: CollabRequest }).request?.log ?? this.log
    if (QUIET_HOOKS.has(name)) log.info({ err: error, hook: name, documentName }, 'collab hook refused')
    else log.error({ err: error, hook: name, documentName }, 'collab hook failed')
  }

  /**
   * Runs onConnect or onAuthenticate, merging every returned object into
   * `payload.context`; a returned `connectionConfig` object is merged into
   * `payload.connectionConfig` instead.
   */
  async runMerging<K extends 'onConnect' | 'onAuthenticate'> (name: K, payload: Payload<K>): Promise<void> {
    await this.run(name, payload, result => {
      if (result === null || typeof result !== 'object') return
      const { connectionConfig, ...rest } = result as { connectionConfig?: unknown }
      if (connectionConfig !== null && typeof connectionConfig === 'object') Object.assign(payload.connectionConfig, connectionConfig)
      Object.assign(payload.context, rest)
    })
  }

  /** Runs a hook whose failure changes nothing: the error is logged by run() and swallowed here. */
  fire<K extends HookName> (name: K, payload: Payload<K>): void {
    if (!this.chains.has(name)) return
    this.run(name, payload).catch(noop)
  }
}
