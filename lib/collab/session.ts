import * as Y from 'yjs'
import type { CollabDocument } from './document.js'
import type { CollabRequest, HookContext, HookRunner } from './hooks.js'
import type { Collab } from './collab.js'
import type { Codec } from './protocol/codec.js'
import type { SyncMessage } from './protocol/y-websocket.js'
import { encodeStateless, encodeSyncStatus } from './protocol/hocuspocus.js'
import { CloseCode } from '../close-codes.js'
import { noop } from '../noop.js'

/** A frame a session handles once its connection is attached to the document. */
export type DocumentMessage =
  | SyncMessage
  | { type: 'awareness', update: Uint8Array }
  | { type: 'query-awareness' }
  | { type: 'stateless', payload: string }

/**
 * A document's session as its socket sees it: a {@link Session} on a document
 * loaded here, or, with `scaleOut`, a proxy to the instance that owns it.
 */
export interface AttachedSession {
  readonly documentName: string
  readonly codec: Codec
  /** The Hocuspocus address ('' for y-websocket). */
  readonly address: string
  /** Handles a decoded client frame. */
  receive: (message: DocumentMessage, frame: Uint8Array) => void
  /** Sends what a newly attached client needs first. */
  greet: () => void
  /** The client left (its socket closed, or it closed the document). */
  leave: () => void
}

/** What a session needs from its socket connection. */
export interface SessionSocket {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly request: CollabRequest | undefined
  readonly socketId: string
  send: (frame: Uint8Array) => void
  /** Closes the socket with a close code (RFC 6455 §7.4) and logs why. */
  fail: (code: number, reason: string, error?: unknown) => void
  /** Ends this session (the whole socket for y-websocket). */
  endSession: (session: AttachedSession) => void
  /** Closes the whole socket. */
  close: (code: number, reason: string) => void
}

/**
 * One document on one socket: what hooks receive as `connection`, and the
 * transaction origin of every update it sends. A y-websocket socket has one;
 * a Hocuspocus socket has one per document it opened.
 */
export class Session implements AttachedSession {
  readonly source = 'connection'
  // Only exists while beforeHandleMessage hooks run, to keep frames in order.
  private chain: Promise<void> | null = null

  constructor (
    private readonly socket: SessionSocket,
    readonly document: CollabDocument,
    readonly codec: Codec,
    /** The Hocuspocus address: the document name, or `name \0 sessionId`. */
    readonly address: string,
    readonly context: HookContext,
    /** Whether this session's updates are refused. */
    readonly readOnly: boolean
  ) {}

  get documentName (): string {
    return this.document.name
  }

  /**
   * The upgraded request. Kept for the socket's lifetime when any of onChange,
   * onStateless, onDisconnect, beforeHandleMessage or onAwarenessUpdate is
   * registered (or the socket may open more documents); otherwise undefined
   * after the handshake, to keep idle connections small.
   */
  get request (): CollabRequest | undefined {
    return this.socket.request
  }

  /** The upgraded request's id. */
  get socketId (): string {
    return this.socket.socketId
  }

  /** Sends a raw frame on the socket (dropped when the socket is not open). */
  send (frame: Uint8Array): void {
    this.socket.send(frame)
  }

  /**
   * Sends a Stateless message (Hocuspocus type 5, `varString(payload)`) to
   * this client. y-websocket has no such message: returns false and sends nothing.
   */
  sendStateless (payload: string): boolean {
    if (this.codec.protocol !== 'hocuspocus') return false
    this.send(encodeStateless(this.address, payload))
    return true
  }

  /** Ends this session: a Hocuspocus client gets CLOSE (7) for this document, a y-websocket socket closes with 1000. */
  close (): void {
    this.socket.endSession(this)
  }

  /** The client left: detach from the document. */
  leave (): void {
    this.document.detach(this)
  }

  /** Closes the whole socket with 4205 (Reset Connection), as `closeConnections()` does; clients reconnect. */
  reset (): void {
    this.socket.close(CloseCode.RESET_CONNECTION, 'Reset Connection')
  }

  /** Sends what a newly attached client needs first: the server's SyncStep1 (y-websocket only; Hocuspocus gets it in answer to its own) and the full awareness. */
  greet (): void {
    if (this.codec.protocol === 'y-websocket') this.send(this.codec.syncStep1(this.address, Y.encodeStateVector(this.document)))
    const awareness = this.document.encodeAwareness()
    if (awareness !== null) this.send(this.codec.awareness(this.address, awareness))
  }

  /**
   * Handles one decoded frame. With beforeHandleMessage hooks, frames wait
   * for them one by one, in order; a throw there closes the socket with 4403.
   * A frame that fails to apply closes it with 4400. An update that arrives
   * once `fastify.close()` began is refused: a Hocuspocus client gets
   * SyncStatus 0, so it keeps the change for its next server.
   */
  receive (message: DocumentMessage, frame: Uint8Array): void {
    const { hooks } = this.socket
    if (!hooks.has('beforeHandleMessage')) return this.handleSafely(message)
    const previous = this.chain ?? Promise.resolve()
    const next = previous.then(async () => {
      try {
        await hooks.run('beforeHandleMessage', {
          instance: this.socket.instance,
          documentName: this.documentName,
          document: this.document,
          connection: this,
          update: frame,
          context: this.context,
          request: this.request,
          socketId: this.socketId
        })
      } catch (error) {
        this.socket.fail(CloseCode.FORBIDDEN, 'Forbidden', error)
        return
      }
      this.handleSafely(message)
    })
    this.chain = next
    next.finally(() => { if (this.chain === next) this.chain = null }).catch(noop)
  }

  private handleSafely (message: DocumentMessage): void {
    // A frame that waited for beforeHandleMessage may find its session ended.
    if (!this.document.connections.has(this)) return
    if (!this.document.isLive) return this.refuse(message)
    try {
      this.handle(message)
    } catch (error) {
      this.socket.fail(CloseCode.BAD_FRAME, 'Bad frame', error)
    }
  }

  /** Answers a frame the closing document no longer takes: an update gets SyncStatus 0 (Hocuspocus; y-websocket has no answer). */
  private refuse (message: DocumentMessage): void {
    if ((message.type === 'update' || message.type === 'sync-step-2') && this.codec.protocol === 'hocuspocus') {
      this.send(encodeSyncStatus(this.address, false))
    }
  }

  private handle (message: DocumentMessage): void {
    const { document, codec, address } = this
    switch (message.type) {
      case 'sync-step-1': {
        // Answer with SyncStep2; a Hocuspocus client also gets our SyncStep1 so it sends what we lack.
        this.send(codec.syncStep2(address, Y.encodeStateAsUpdate(document, message.stateVector)))
        if (codec.protocol === 'hocuspocus') this.send(codec.syncStep1(address, Y.encodeStateVector(document)))
        return
      }
      case 'sync-step-2':
      case 'update': {
        if (this.readOnly) {
          // A SyncStep2 with nothing new is still "applied" (as Hocuspocus 4.7 answers it).
          if (codec.protocol === 'hocuspocus') {
            const nothingNew = message.type === 'sync-step-2' && Y.snapshotContainsUpdate(Y.snapshot(document), message.update)
            this.send(encodeSyncStatus(address, nothingNew))
          }
          return
        }
        const changed = document.applyUpdate(message.update, this)
        if (codec.protocol !== 'hocuspocus') return
        // The acknowledgement waits for onChange, so a durable store acknowledges after its write.
        if (changed === undefined) this.send(encodeSyncStatus(address, true))
        else changed.then(() => this.send(encodeSyncStatus(address, true)), () => this.send(encodeSyncStatus(address, false)))
        return
      }
      case 'awareness':
        document.applyAwarenessUpdate(message.update, this)
        return
      case 'query-awareness': {
        const awareness = document.encodeAwareness()
        if (awareness !== null) this.send(codec.awareness(address, awareness))
        return
      }
      case 'stateless':
        this.socket.hooks.fire('onStateless', {
          instance: this.socket.instance,
          documentName: this.documentName,
          document,
          connection: this,
          payload: message.payload,
          context: this.context,
          request: this.request
        })
    }
  }
}
