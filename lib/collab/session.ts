import * as Y from 'yjs'
import type { LoadedDocument } from './document.js'
import type { HookRunner } from './hooks.js'
import type { Codec } from './protocol/codec.js'
import type { Collab, CollabRequest, HookContext, Session } from './types.js'
import { type AttachedSession, type CollabHost, type DocumentMessage, type SessionInit, type SessionSocket, comesAfterUpdates } from './contracts.js'
import type { Answer, TurnWriter } from './turn.js'
import { encodeAuthenticated, encodeStateless, encodeSyncStatus } from './protocol/hocuspocus.js'
import { CloseCode, refusalClose } from '../close-codes.js'
import { FST_COLLAB_CLOSED, FST_COLLAB_DOCUMENT_TOO_LARGE, FST_COLLAB_STORE_BACKLOG, FST_COLLAB_UPDATE_NOT_INTEGRABLE } from '../errors.js'
import { updateAckChannel, type UpdateAckEvent } from '../diagnostics.js'
import { noop } from '../noop.js'

/** What a session needs of the collab core: the app, its hooks and its bounds. */
export interface SessionHost {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly limits: CollabHost['limits']
}

/**
 * Where the session stands with the client's state.
 * - handshaking: the client has not yet answered our SyncStep1 with its
 *   SyncStep2. An update it sent meanwhile may build on changes it made
 *   offline, which only that SyncStep2 brings: such an update waits (bounded)
 *   and is applied after it.
 * - synced: every update the client sends builds on what the server has; one
 *   that cannot be integrated means the client is out of step: close 4205.
 * - refused (Hocuspocus only): the server refused one of its changes (store
 *   backlog, document size) and the client keeps it; its later updates build
 *   on it, so they get SyncStatus 0 too. Once the backlog clears the server
 *   sends a SyncStep1, which the provider answers with everything: → handshaking.
 */
type SyncState = 'handshaking' | 'synced' | 'refused'

// Answer flags: at most one SyncStep2 answer and one awareness answer in the
// socket's send queue; requests meanwhile are coalesced into one more.
const SYNC_IN_FLIGHT = 1
const SYNC_AGAIN = 2
const AWARENESS_IN_FLIGHT = 4
const AWARENESS_WANTED = 8
const AWARENESS_SCHEDULED = 16

/**
 * One document on one socket (see {@link Session}): the transaction origin
 * of every update it sends, and the per-session bounds.
 */
export class SocketSession implements Session, AttachedSession, TurnWriter {
  readonly source = 'connection'
  private syncState: SyncState = 'handshaking'
  private answers = 0
  // The state vector of the latest SyncStep1 coalesced while an answer was in flight.
  private nextStateVector: Uint8Array | null = null
  // Updates that came during the handshake and wait for the client's SyncStep2, each with the answer that
  // holds its place among the SyncStatus frames.
  private parked: Array<{ update: Uint8Array, answer: Answer }> | null = null
  private parkedBytes = 0
  // Frames waiting for beforeHandleMessage, in order; null when none wait.
  private waiting: Array<{ message: DocumentMessage, frame: Uint8Array }> | null = null
  // SyncStatus 1 and 0 for this session's address, each once it is first sent (most sessions never
  // send a 0, and an idle one holds them for hours: bench/README.md, idle memory).
  private syncStatusApplied: Uint8Array | null = null
  private syncStatusRefused: Uint8Array | null = null
  // The last SyncStatus not sent yet (it waits for its onChange chain), until it is: every later one
  // waits behind it, so that the answers come in the order of the frames they answer.
  private lastAnswer: Promise<void> | undefined

  readonly codec: Codec
  readonly address: string
  readonly context: HookContext
  readonly readOnly: boolean

  constructor (
    private readonly host: SessionHost,
    private readonly socket: SessionSocket,
    readonly document: LoadedDocument,
    init: Pick<SessionInit, 'codec' | 'address' | 'context' | 'readOnly'>
  ) {
    this.codec = init.codec
    this.address = init.address
    this.context = init.context
    this.readOnly = init.readOnly
  }

  get documentName (): string {
    return this.document.name
  }

  get request (): CollabRequest | undefined {
    return this.socket.request
  }

  get socketId (): string {
    return this.socket.socketId
  }

  send (frame: Uint8Array): void {
    this.socket.send(frame)
  }

  sendStateless (payload: string): boolean {
    if (this.codec.protocol !== 'hocuspocus') return false
    this.send(encodeStateless(this.address, payload))
    return true
  }

  close (): void {
    this.socket.endSession(this)
  }

  reset (): void {
    this.socket.close(CloseCode.RESET_CONNECTION, 'Reset Connection')
  }

  /** The client left: detach from the document. */
  leave (): void {
    this.document.detach(this)
  }

  /**
   * Sends what a newly attached client needs first: Hocuspocus's Authenticated (with read-only), or the
   * server's SyncStep1 for y-websocket (Hocuspocus gets it in answer to its own); then the full awareness.
   */
  greet (): void {
    if (this.codec.protocol === 'hocuspocus') this.send(encodeAuthenticated(this.address, this.readOnly))
    else this.send(this.codec.syncStep1(this.address, Y.encodeStateVector(this.document)))
    const awareness = this.document.encodeAwareness()
    if (awareness !== null) this.send(this.codec.awareness(this.address, awareness))
  }

  /**
   * Asks a refused client for what it holds, once the store backlog is back
   * under its bound: the provider answers our SyncStep1 with a SyncStep2.
   */
  resync (): void {
    if (this.syncState !== 'refused' || !this.document.connections.has(this)) return
    this.syncState = 'handshaking'
    this.send(this.codec.syncStep1(this.address, Y.encodeStateVector(this.document)))
  }

  /**
   * Handles one decoded frame. With beforeHandleMessage hooks, frames wait
   * for them one by one, in order, and the socket stops reading meanwhile; a
   * throw there closes the socket with 4403.
   */
  receive (message: DocumentMessage, frame: Uint8Array): void {
    if (!this.host.hooks.has('beforeHandleMessage')) return this.handleSafely(message)
    if (this.waiting !== null) {
      // Only what ws had already read when the socket paused lands here.
      this.waiting.push({ message, frame })
      return
    }
    this.waiting = [{ message, frame }]
    this.socket.pause()
    this.drainWaiting().catch(noop)
  }

  private async drainWaiting (): Promise<void> {
    const waiting = this.waiting as Array<{ message: DocumentMessage, frame: Uint8Array }>
    try {
      for (let i = 0; i < waiting.length; i++) {
        const { message, frame } = waiting[i]
        try {
          await this.host.hooks.run('beforeHandleMessage', {
            instance: this.host.instance,
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
      }
    } finally {
      this.waiting = null
      this.socket.resume()
    }
  }

  private handleSafely (message: DocumentMessage): void {
    // A frame that waited for beforeHandleMessage may find its session ended.
    if (!this.document.connections.has(this)) return
    if (!this.document.canServe()) return this.refuseClosed(message, arrivedAt())
    // Updates waiting for the turn's end go in before a frame that must follow them. Here, not on arrival:
    // with beforeHandleMessage, updates that came before this frame may have reached the turn only now.
    if (comesAfterUpdates(message)) this.document.intake.flush()
    try {
      this.handle(message)
    } catch (error) {
      this.onRefused(error)
    }
  }

  /** Answers a frame the closing document no longer takes: an update gets SyncStatus 0 (Hocuspocus; y-websocket has no answer). */
  private refuseClosed (message: DocumentMessage, since: number): void {
    if ((message.type === 'update' || message.type === 'sync-step-2') && this.codec.protocol === 'hocuspocus') {
      this.acknowledge(false, since)
    }
  }

  /** A refused frame closes the socket, with the close code of its error (close-codes.ts). */
  private onRefused (error: unknown): void {
    const { code, reason } = refusalClose(error)
    this.socket.fail(code, reason, error)
  }

  private handle (message: DocumentMessage): void {
    switch (message.type) {
      case 'sync-step-1':
        // Decoded now: a coalesced one is answered later, outside this frame's error handling.
        Y.decodeStateVector(message.stateVector)
        this.nextStateVector = message.stateVector
        return this.answerSyncStep1()
      case 'sync-step-2':
      case 'update':
        return this.receiveUpdate(message.update, message.type === 'sync-step-2')
      case 'awareness':
        if (this.document.applyAwarenessUpdate(message.update, this)) this.socket.limitReached('maxAwarenessStates')
        return
      case 'query-awareness':
        return this.queryAwareness()
      case 'stateless':
        this.host.hooks.fire('onStateless', {
          instance: this.host.instance,
          documentName: this.documentName,
          document: this.document,
          connection: this,
          payload: message.payload,
          context: this.context,
          request: this.request
        })
    }
  }

  // --- answers (issue: no amplification) --------------------------------------

  /**
   * Answers SyncStep1 with SyncStep2 (and, for Hocuspocus, our SyncStep1 so
   * it sends what we lack). While an answer is still in the send queue, a new
   * SyncStep1 is not answered at once: its state vector replaces any waiting
   * one, and one answer follows when the first has been written.
   */
  private answerSyncStep1 (): void {
    if ((this.answers & SYNC_IN_FLIGHT) !== 0) {
      this.answers |= SYNC_AGAIN
      return
    }
    const stateVector = this.nextStateVector as Uint8Array
    this.nextStateVector = null
    this.answers |= SYNC_IN_FLIGHT
    const { document, codec, address } = this
    this.socket.send(document.syncAnswers.get(codec, address, stateVector), () => this.syncAnswerWritten())
    if (codec.protocol === 'hocuspocus') this.send(codec.syncStep1(address, Y.encodeStateVector(document)))
  }

  private syncAnswerWritten (): void {
    this.answers &= ~SYNC_IN_FLIGHT
    if ((this.answers & SYNC_AGAIN) === 0 || !this.document.connections.has(this) || !this.document.canServe()) return
    this.answers &= ~SYNC_AGAIN
    try {
      this.answerSyncStep1()
    } catch (error) {
      this.onRefused(error)
    }
  }

  /** QueryAwareness: answered with every state at most once per event-loop turn, and never while the last answer is unwritten. */
  private queryAwareness (): void {
    this.answers |= AWARENESS_WANTED
    if ((this.answers & (AWARENESS_IN_FLIGHT | AWARENESS_SCHEDULED)) !== 0) return
    this.answers |= AWARENESS_SCHEDULED
    setImmediate(answerAwareness, this)
  }

  /** The scheduled answer to QueryAwareness. */
  answerAwareness (): void {
    this.answers &= ~(AWARENESS_SCHEDULED | AWARENESS_WANTED)
    if (!this.document.connections.has(this) || !this.document.canServe()) return
    let awareness: Uint8Array | null
    try {
      awareness = this.document.encodeAwareness()
    } catch (error) {
      return this.onRefused(error)
    }
    if (awareness === null) return
    this.answers |= AWARENESS_IN_FLIGHT
    this.socket.send(this.codec.awareness(this.address, awareness), () => {
      this.answers &= ~AWARENESS_IN_FLIGHT
      if ((this.answers & AWARENESS_WANTED) !== 0) this.queryAwareness()
    })
  }

  // --- updates ----------------------------------------------------------------

  /**
   * Applies a SyncStep2 or Update frame's update and answers it (Hocuspocus): with a new SyncStatus, or,
   * for an update that waited (parked, or taken back from the turn), through the answer that kept its place when it came.
   */
  private receiveUpdate (update: Uint8Array, isSyncStep2: boolean, waitedAnswer?: Answer): void {
    const answer = waitedAnswer ?? this.newAnswer()
    if (this.readOnly) {
      // A SyncStep2 with nothing new is still "applied" (as Hocuspocus 4.7 answers it).
      answer(isSyncStep2 && Y.snapshotContainsUpdate(Y.snapshot(this.document), update))
      return
    }
    if (this.syncState === 'refused') return answer(false)
    if (!isSyncStep2 && waitedAnswer === undefined && this.syncState === 'synced') {
      // Yjs's work per transaction grows with the document's clients: the updates of every session go in
      // together at the turn's end (turn.ts).
      this.document.intake.add(this, update, answer)
      return
    }
    let changed: Promise<void> | undefined
    try {
      changed = this.document.applyUpdate(update, this)
    } catch (error) {
      return this.refuseUpdate(update, isSyncStep2, error, answer)
    }
    if (isSyncStep2 && this.syncState === 'handshaking') this.handshakeDone()
    // The acknowledgement waits for onChange, so a durable store acknowledges after its write.
    answer(changed === undefined ? true : changed.then(() => true, () => false))
  }

  /** See {@link TurnWriter.takeBack}. */
  takeBack (update: Uint8Array, answer: Answer): void {
    this.receiveUpdate(update, false, answer)
  }

  /** How the frame that arrives now is answered: its SyncStatus, in frame order (Hocuspocus; y-websocket has none). */
  private newAnswer (): Answer {
    if (this.codec.protocol !== 'hocuspocus') return noop
    const since = arrivedAt()
    return (applied) => this.acknowledge(applied, since)
  }

  /**
   * Answers a SyncStep2 or Update frame with its SyncStatus (Hocuspocus), once `applied` is known and every
   * earlier frame of this session has had its answer: a refusal, which is known at once, must not overtake
   * the acknowledgement of an earlier update still waiting for its write (a client matches answers to
   * frames by their order).
   */
  private acknowledge (applied: boolean | Promise<boolean>, since: number): void {
    const previous = this.lastAnswer
    if (previous === undefined && typeof applied === 'boolean') return this.sendSyncStatus(applied, since)
    const answered = Promise.all([previous, applied]).then(([, result]) => this.sendSyncStatus(result, since))
    this.lastAnswer = answered
    answered.then(() => { if (this.lastAnswer === answered) this.lastAnswer = undefined }, noop)
  }

  /**
   * Sends a SyncStatus, and publishes it on `fastify-collab:update:ack` with the time since `since` (from
   * {@link arrivedAt}; 0 when nobody listened as the update arrived).
   */
  private sendSyncStatus (applied: boolean, since: number): void {
    // Encoded once per session: a SyncStatus goes out for every update (Hocuspocus), and encoding each
    // anew was a tenth of the server's time replaying a trace (bench/README.md), mostly in the collector.
    this.send(applied
      ? this.syncStatusApplied ??= encodeSyncStatus(this.address, true)
      : this.syncStatusRefused ??= encodeSyncStatus(this.address, false))
    if (since === 0 || !updateAckChannel.hasSubscribers) return
    updateAckChannel.publish({
      instance: this.host.instance,
      documentName: this.documentName,
      socketId: this.socketId,
      applied,
      durationMs: performance.now() - since
    } satisfies UpdateAckEvent)
  }

  /** The client's SyncStep2 is in: the updates that waited for it go in now, in order. */
  private handshakeDone (): void {
    this.syncState = 'synced'
    const parked = this.parked
    if (parked === null) return
    this.parked = null
    this.parkedBytes = 0
    for (const { update, answer } of parked) {
      if (!this.document.connections.has(this)) return
      this.receiveUpdate(update, false, answer)
    }
  }

  /**
   * The updates parked for the handshake are refused with the session (SyncStatus 0, in their places): the
   * client keeps them and sends them again in the SyncStep2 that answers a later resync. Kept, their
   * answers would hold back every later one for as long as the session stays refused.
   */
  private refuseParked (): void {
    const parked = this.parked
    if (parked === null) return
    this.parked = null
    this.parkedBytes = 0
    for (const { answer } of parked) answer(false)
  }

  private refuseUpdate (update: Uint8Array, isSyncStep2: boolean, error: unknown, answer: Answer): void {
    const hocuspocus = this.codec.protocol === 'hocuspocus'
    if (error instanceof FST_COLLAB_UPDATE_NOT_INTEGRABLE && !isSyncStep2 && this.syncState === 'handshaking') return this.park(update, answer)
    const backlog = error instanceof FST_COLLAB_STORE_BACKLOG
    if (backlog || error instanceof FST_COLLAB_DOCUMENT_TOO_LARGE) {
      // Hocuspocus answers SyncStatus 0 and the client keeps the change; y-websocket is closed (close-codes.ts).
      if (!hocuspocus) return this.onRefused(error)
      const limit = backlog ? 'maxUnstoredBytes' : 'maxDocumentBytes'
      this.socket.limitReached(limit, { documentName: this.documentName })
      this.syncState = 'refused'
      this.refuseParked()
      answer(false)
      if (limit === 'maxUnstoredBytes') this.document.whenStoreCatchesUp(this)
      return
    }
    if (error instanceof FST_COLLAB_CLOSED) return answer(false)
    this.onRefused(error)
  }

  /**
   * Keeps an update that came during the handshake until the client's
   * SyncStep2; past the auth queue bounds (a budget of their size per
   * session) the client is reset: close 4205, and it resyncs. Its answer
   * takes its place now: the client matches each SyncStatus to the frames it
   * sent, in order, so an answer to a later update must not come first.
   */
  private park (update: Uint8Array, answer: Answer): void {
    const { authQueueMaxBytes, authQueueMaxFrames } = this.host.limits
    let settle: Answer = noop
    answer(new Promise<boolean>((resolve) => { settle = resolve }))
    this.parked ??= []
    this.parked.push({ update, answer: settle })
    this.parkedBytes += update.length
    const passed = this.parkedBytes > authQueueMaxBytes ? 'authQueueMaxBytes' : this.parked.length > authQueueMaxFrames ? 'authQueueMaxFrames' : null
    if (passed === null) return
    this.socket.refused(passed)
    this.socket.fail(CloseCode.RESET_CONNECTION, 'Reset Connection: too many updates before the SyncStep2')
  }
}

/** When an update arrived, for its acknowledgement's duration: only while anyone listens, else 0. */
function arrivedAt (): number {
  return updateAckChannel.hasSubscribers ? performance.now() : 0
}

// Shared by every session: setImmediate with an argument instead of a closure.
function answerAwareness (session: SocketSession): void {
  session.answerAwareness()
}
