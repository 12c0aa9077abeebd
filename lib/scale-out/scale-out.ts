// The scale-out, wired: one Redis bus, the links to the other instances,
// the ownership of documents, the sessions this instance proxies to owners
// elsewhere (edge side) and those it serves for other instances (owner side).
// It decides what each message and each doubt means; the state machines live
// in ownership.ts (documents) and the session classes.

import type { FastifyBaseLogger } from 'fastify'
import { clientReason, CloseCode } from '../close-codes.js'
import { hocuspocusCodec, yWebsocketCodec } from '../collab/protocol/codec.js'
import { decodeHocuspocusFrame } from '../collab/protocol/hocuspocus.js'
import { decodeYWebsocketFrame } from '../collab/protocol/y-websocket.js'
import type { CollabHost, DocumentMessage, Placement, ProxiedSocket, Router, RouterStats, SessionInit } from '../collab/contracts.js'
import { linkChannel, type LinkMessageEvent, type ResetReason, sessionsResetChannel, type SessionsResetEvent } from '../diagnostics.js'
import { FST_COLLAB_CLOSED, FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import { decodeEnvelope, EndMode, type Entry, Kind, RefuseReason, senderOf, WireCode, type WireCodeValue } from './envelope.js'
import { Links } from './link.js'
import { type Depose, type Fence, Ownership } from './ownership.js'
import { Proxies, ProxySession } from './proxy.js'
import type { RedisConnection, ScaleOutSettings } from './options.js'
import { RedisBus } from './redis.js'
import { deserializeConnection, serializeConnection } from './remote-request.js'
import { RemoteSocket, RemoteSockets } from './remote-socket.js'

// Why an OPEN did not attach: the owner no longer owns the document, or could
// not be reached. Either way the caller places the document again.
class NotOwnerError extends Error {}

// How long, in ms, a shutdown waits for Redis to take its last messages and its goodbye: a
// Redis that is gone must not hold `fastify.close()` up.
const CLOSE_TIMEOUT = 1000
class UnreachableError extends Error {}

interface Opening {
  session: ProxySession
  resolve: (session: ProxySession) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

// Only document messages cross: the edge answers pings, Auth and CLOSE itself.
function decodeDocumentMessage (protocol: WireCodeValue, frame: Uint8Array): DocumentMessage | null {
  if (protocol === WireCode.YWebsocket) return decodeYWebsocketFrame(frame)
  const message = decodeHocuspocusFrame(frame)
  switch (message.type) {
    case 'ping': case 'pong': case 'auth': case 'close': return null
    default: return message
  }
}

export class ScaleOut implements Router {
  readonly instanceId: string
  readonly #host: CollabHost
  readonly #settings: ScaleOutSettings
  readonly #log: FastifyBaseLogger
  readonly #bus: RedisBus
  readonly #links: Links
  readonly #ownership: Ownership
  readonly #proxies: Proxies
  readonly #remotes: RemoteSockets
  // Edge side: sessions whose OPEN is on its way to the owner.
  readonly #opening = new Map<number, Opening>()
  // Owner side: OPENs being served (loading), by edge and number; a LEAVE meanwhile cancels them.
  readonly #serving = new Map<string, Set<number>>()
  // Instances a publish found unreachable, until when (ms): a claim may take
  // their documents over without waiting for their heartbeat to lapse.
  readonly #suspects = new Map<string, number>()
  #liveness: NodeJS.Timeout | null = null
  #checking = false
  #closed = false

  /**
   * @param fence issues the fencing epochs: the one storage extension that fences.
   * @param depose steps down a document this instance lost.
   */
  constructor (host: CollabHost, connection: RedisConnection, settings: ScaleOutSettings, instanceId: string, fence: Fence, depose: Depose) {
    this.instanceId = instanceId
    this.#host = host
    this.#settings = settings
    this.#log = host.log
    this.#bus = new RedisBus(connection, settings, instanceId, host.log, {
      message: (message) => this.#receive(message),
      doubt: (reason) => this.#doubtAll(reason)
    })
    this.#links = new Links(instanceId, settings.maxLinkBytes, (to, message) => {
      this.#count('out', to, message.byteLength)
      return this.#bus.publish(to, message)
    }, {
      broken: (destination, reason, message) => this.#broken(destination, reason, message),
      // Half of maxLinkBytes waits for an owner: stop reading the sockets that feed it until it drains.
      pressure: (destination, high) => { for (const session of this.#proxies.of(destination)) session.throttle('link', high) }
    })
    this.#ownership = new Ownership(host.instance, this.#bus, fence, depose, () => this.#currentSuspects(), settings.leaseMs, host.log)
    this.#proxies = new Proxies(this.#links)
    this.#remotes = new RemoteSockets(host, this.#links)
  }

  /** Connects to Redis, subscribes, starts the heartbeat, lease renewal and liveness checks. @rejects when Redis cannot be reached. */
  async start (): Promise<void> {
    await this.#bus.start()
    this.#ownership.start()
    this.#liveness = setInterval(this.#checkLiveness, this.#settings.heartbeatInterval).unref()
  }

  /** Where a document is served; claims it for this instance when no live instance holds it. */
  place (documentName: string): Promise<Placement> {
    return this.#ownership.place(documentName)
  }

  /** The live owner of a document, or null. */
  ownerOf (documentName: string): Promise<string | null> {
    return this.#bus.ownerOf(documentName)
  }

  /** A loaded document unloaded here; its lease goes back. */
  unloaded (documentName: string, epoch: number): void {
    this.#ownership.unloaded(documentName, epoch)
  }

  /** This instance stopped serving the document it claimed under `epoch`. */
  lose (documentName: string, epoch: number, reason: string): void {
    this.#ownership.lose(documentName, epoch, reason)
  }

  // --- edge side -------------------------------------------------------------

  /**
   * Opens a session for `socket` on the instance that owns the document.
   * @returns null when `owner` does not own it any more, or could not be reached (it is then a suspect,
   *   whose documents the next claim may take over): place it again.
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when the owner does not answer within `openTimeout`; an Error
   *   with the owner's reason when it refused.
   * @throws what v8.serialize throws when the context cannot cross (checked at connect before this).
   */
  async proxy (socket: ProxiedSocket, owner: string, init: SessionInit): Promise<ProxySession | null> {
    let session
    try {
      session = await this.#open(socket, owner, init)
    } catch (error) {
      if (error instanceof NotOwnerError || error instanceof UnreachableError) return null
      throw error
    }
    if (init.cancelled()) {
      session.leave()
      return null
    }
    init.attached(session)
    return session
  }

  #currentSuspects (): string[] {
    const now = Date.now()
    for (const [id, until] of this.#suspects) if (until < now) this.#suspects.delete(id)
    return [...this.#suspects.keys()]
  }

  #open (socket: ProxiedSocket, owner: string, init: SessionInit): Promise<ProxySession> {
    const state = serializeConnection(this.instanceId, init.request, init.context)
    const number = this.#proxies.nextNumber()
    const session = new ProxySession(this.#proxies, socket, owner, number, init.documentName, init.codec, init.address)
    const opened = new Promise<ProxySession>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#opening.delete(number)
        this.#links.to(owner).add({ kind: Kind.Leave, session: number })
        reject(new FST_COLLAB_SCALE_OUT_UNAVAILABLE(init.documentName, { cause: new Error(`instance ${owner} did not answer within ${this.#settings.openTimeout} ms`) }))
      }, this.#settings.openTimeout)
      this.#opening.set(number, { session, resolve, reject, timer })
    })
    this.#links.to(owner).add({
      kind: Kind.Open,
      session: number,
      documentName: init.documentName,
      address: init.address,
      protocol: init.codec.protocol === 'hocuspocus' ? WireCode.Hocuspocus : WireCode.YWebsocket,
      readOnly: init.readOnly,
      state
    })
    return opened
  }

  #settleOpening (number: number, outcome: ProxySession | Error): void {
    const opening = this.#opening.get(number)
    if (opening === undefined) return
    this.#opening.delete(number)
    clearTimeout(opening.timer)
    if (outcome instanceof Error) {
      opening.reject(outcome)
      return
    }
    // Registered now, not when the caller resumes: the owner's greeting may
    // follow in this very message.
    this.#proxies.add(outcome)
    opening.resolve(outcome)
  }

  // --- owner side ------------------------------------------------------------

  async #serve (edge: string, entry: Extract<Entry, { kind: typeof Kind.Open }>): Promise<void> {
    const link = this.#links.to(edge)
    const { session: number, documentName, address, readOnly } = entry
    const codec = entry.protocol === WireCode.Hocuspocus ? hocuspocusCodec : yWebsocketCodec
    let serving = this.#serving.get(edge)
    if (serving === undefined) this.#serving.set(edge, serving = new Set())
    serving.add(number)
    try {
      const { request, context } = deserializeConnection(entry.state, this.#log)
      const socket = new RemoteSocket(this.#remotes, edge, number, request)
      const opened = await this.#host.openSession(socket, {
        documentName,
        address,
        codec,
        readOnly,
        context,
        request,
        cancelled: () => !serving.has(number),
        attached: (session) => {
          socket.session = session
          this.#remotes.add(socket)
          // Before the greeting the session sends: the edge knows the session when its frames come.
          link.add({ kind: Kind.Opened, session: number })
        }
      })
      if (opened !== null && 'owner' in opened) link.add({ kind: Kind.Refused, session: number, reason: RefuseReason.NotOwner, message: opened.owner })
    } catch (error) {
      // A closing owner still holds its leases for a moment: the edge places the document again (and its
      // client retries) instead of giving up on it.
      const reason = error instanceof FST_COLLAB_CLOSED ? RefuseReason.NotOwner : RefuseReason.Failed
      // The full error is in this owner's log (the hook runner logged it); the client reads only what the app meant for it.
      link.add({ kind: Kind.Refused, session: number, reason, message: clientReason(error) })
    } finally {
      serving.delete(number)
      if (serving.size === 0 && this.#serving.get(edge) === serving) this.#serving.delete(edge)
    }
  }

  #frame (edge: string, number: number, frame: Uint8Array): void {
    const socket = this.#remotes.get(edge, number)
    if (socket?.session == null) {
      // The session ended here (the message saying so may be lost): the edge resets its client.
      this.#links.to(edge).add({ kind: Kind.End, session: number, mode: EndMode.Socket, code: CloseCode.RESET_CONNECTION, reason: 'Reset Connection: unknown session' })
      return
    }
    const { session } = socket
    let message: DocumentMessage | null
    try {
      message = decodeDocumentMessage(session.codec.protocol === 'hocuspocus' ? WireCode.Hocuspocus : WireCode.YWebsocket, frame)
    } catch (error) {
      socket.fail(CloseCode.BAD_FRAME, 'Bad frame', error)
      return
    }
    if (message !== null) session.receive(message, frame)
  }

  /** A Call from an edge: the task runs for the session's document, and its outcome goes back. */
  async #call (edge: string, entry: Extract<Entry, { kind: typeof Kind.Call }>): Promise<void> {
    const socket = this.#remotes.get(edge, entry.session)
    if (socket?.session == null) {
      this.#links.to(edge).add({ kind: Kind.End, session: entry.session, mode: EndMode.Socket, code: CloseCode.RESET_CONNECTION, reason: 'Reset Connection: unknown session' })
      return
    }
    const outcome = await this.#host.runTask(socket.session.documentName, entry.name, entry.args)
    this.#links.to(edge).add({ kind: Kind.Answer, session: entry.session, call: entry.call, outcome })
  }

  #leave (edge: string, number: number): void {
    this.#serving.get(edge)?.delete(number)
    this.#remotes.get(edge, number)?.drop()
  }

  // --- messages --------------------------------------------------------------

  #receive (message: Buffer): void {
    let envelope
    try {
      envelope = decodeEnvelope(message)
    } catch (error) {
      const sender = senderOf(message)
      this.#log.warn({ err: error, sender }, 'scale-out: an undecodable message')
      if (sender !== null) this.#broken(sender, 'undecodable', 'an undecodable message')
      return
    }
    const { sender, seq, entries } = envelope
    this.#count('in', sender, message.byteLength)
    if (!this.#links.accept(sender, seq)) this.#broken(sender, 'gap', `messages from instance ${sender} were lost`)
    for (const entry of entries) {
      try {
        this.#dispatch(sender, entry)
      } catch (error) {
        this.#log.error({ err: error, sender, kind: entry.kind }, 'scale-out: a message could not be handled')
      }
    }
  }

  #dispatch (sender: string, entry: Entry): void {
    switch (entry.kind) {
      case Kind.Open:
        this.#serve(sender, entry).catch(() => {})
        return
      case Kind.Opened: {
        const opening = this.#opening.get(entry.session)
        if (opening !== undefined) this.#settleOpening(entry.session, opening.session)
        else this.#links.to(sender).add({ kind: Kind.Leave, session: entry.session })
        return
      }
      case Kind.Refused:
        // The owner sent what the client may read (see clientReason): it stays the refusal's reason here.
        this.#settleOpening(entry.session, entry.reason === RefuseReason.NotOwner ? new NotOwnerError(entry.message) : Object.assign(new Error(entry.message), { reason: entry.message }))
        return
      case Kind.Frame:
        this.#frame(sender, entry.session, entry.frame)
        return
      case Kind.Call:
        this.#call(sender, entry).catch((error: unknown) => this.#log.error({ err: error, sender }, 'scale-out: a call could not be answered'))
        return
      case Kind.Answer: {
        const session = this.#proxies.get(entry.session)
        if (session?.owner === sender) session.answered(entry.call, entry.outcome)
        return
      }
      case Kind.Leave:
        this.#leave(sender, entry.session)
        return
      case Kind.Send:
        for (const number of entry.sessions) {
          const session = this.#proxies.get(number)
          if (session !== undefined && session.owner === sender) session.deliver(entry.frame)
          else this.#links.to(sender).add({ kind: Kind.Leave, session: number })
        }
        return
      case Kind.End: {
        const session = this.#proxies.get(entry.session)
        if (session?.owner === sender) session.end(entry.mode, entry.code, entry.reason)
        return
      }
      case Kind.Pause:
      case Kind.Resume: {
        const session = this.#proxies.get(entry.session)
        if (session?.owner === sender) session.throttle('owner', entry.kind === Kind.Pause)
      }
    }
  }

  // --- doubts ----------------------------------------------------------------

  /** Every session that crosses instances resyncs: the subscriber reconnected, messages may be lost. */
  #doubtAll (reason: string): void {
    if (this.#closed) return
    this.#log.warn(`scale-out: resetting every cross-instance session: ${reason}`)
    const proxies = this.#proxies.of()
    const remotes = this.#remotes.of()
    this.#publishReset('subscriber', undefined, proxies.length + remotes.length)
    for (const session of proxies) session.reset(reason)
    for (const socket of remotes) socket.close(CloseCode.RESET_CONNECTION, `Reset Connection: ${reason}`)
  }

  /**
   * The sessions shared with one instance resync. It is told (End and Leave entries, or the gap its next
   * message shows) unless nobody listens on its channel (`unreachable`): a word would reach nobody then,
   * and an instance whose subscriber comes back doubts every session itself.
   */
  #broken (instanceId: string, cause: ResetReason, reason: string): void {
    if (this.#closed) return
    const unreachable = cause === 'unreachable'
    if (unreachable) this.#suspects.set(instanceId, Date.now() + this.#settings.heartbeatTimeout)
    const proxies = this.#proxies.of(instanceId)
    const remotes = this.#remotes.of(instanceId)
    for (const [number, opening] of this.#opening) {
      if (opening.session.owner !== instanceId) continue
      this.#settleOpening(number, unreachable ? new UnreachableError(reason) : new FST_COLLAB_SCALE_OUT_UNAVAILABLE(opening.session.documentName, { cause: new Error(reason) }))
    }
    if (proxies.length + remotes.length === 0) return
    this.#log.warn({ instance: instanceId, proxied: proxies.length, served: remotes.length }, `scale-out: resetting sessions: ${reason}`)
    this.#publishReset(cause, instanceId, proxies.length + remotes.length)
    for (const session of proxies) session.reset(reason)
    for (const socket of remotes) {
      if (unreachable) socket.drop()
      else socket.close(CloseCode.RESET_CONNECTION, `Reset Connection: ${reason}`)
    }
  }

  // The instances this one shares sessions with, checked each heartbeat: the
  // sessions of one that died (it no longer listens: within heartbeatInterval)
  // or stalled (its heartbeat lapsed and nothing came from it for
  // heartbeatTimeout: within heartbeatTimeout + heartbeatInterval) end here,
  // and their users leave the presence of every document. A lapsed heartbeat
  // alone is not enough: an owner whose event loop is busy writes it late, yet
  // its messages keep coming, and resetting its sessions would only add the
  // resyncs of every client to its load.
  readonly #checkLiveness = (): void => {
    if (this.#checking) return
    const peers = [...new Set([...this.#remotes.edges(), ...this.#proxies.owners()])]
    if (peers.length === 0) return
    this.#checking = true
    this.#bus.liveness(peers).then((liveness) => {
      peers.forEach((peer, i) => {
        if (liveness[i] === 'alive') return
        if (liveness[i] === 'lapsed') {
          if (this.#links.heardWithin(peer, this.#settings.heartbeatTimeout)) return
          // Told: a stalled process reads what waits for it when it resumes, and resets its clients.
          this.#broken(peer, 'stalled', `instance ${peer} stalled (no heartbeat, silent ${this.#settings.heartbeatTimeout} ms)`)
        } else {
          this.#broken(peer, 'unreachable', `instance ${peer} is gone (nobody listens on its channel)`)
        }
        this.#links.forget(peer)
      })
    }, () => {
      // Redis unreachable: the bus logs it; the leases' own bound applies.
    }).finally(() => { this.#checking = false })
  }

  // --- diagnostics -----------------------------------------------------------

  #publishReset (reason: ResetReason, peer: string | undefined, sessions: number): void {
    if (sessions === 0 || !sessionsResetChannel.hasSubscribers) return
    sessionsResetChannel.publish({ instance: this.#host.instance, reason, peer, sessions } satisfies SessionsResetEvent)
  }

  #count (direction: 'in' | 'out', peer: string, bytes: number): void {
    if (linkChannel.hasSubscribers) linkChannel.publish({ instance: this.#host.instance, direction, peer, bytes } satisfies LinkMessageEvent)
  }

  /** For the metrics: documents owned here, sessions proxied to owners elsewhere, sessions served for other instances. */
  stats (): RouterStats {
    return { ownedDocuments: this.#ownership.ownedCount(), proxiedSessions: this.#proxies.size, servedSessions: this.#remotes.size }
  }

  // --- closing ---------------------------------------------------------------

  /**
   * For `fastify.close()`, once every document here has been stored and
   * unloaded: the sessions served for other instances end with 1012 (their
   * clients reconnect and their edge places the document again), the links
   * drain, the heartbeat stops and this instance leaves the live set.
   */
  async close (): Promise<void> {
    if (this.#liveness !== null) clearInterval(this.#liveness)
    this.#ownership.stop()
    for (const edge of this.#remotes.edges()) {
      for (const socket of this.#remotes.of(edge)) socket.close(CloseCode.SERVICE_RESTART, 'Service Restart')
    }
    await this.#links.drain(CLOSE_TIMEOUT)
    // What is sent from now on (a session ending as its socket closes) goes nowhere, and that is no doubt.
    this.#closed = true
    await this.#bus.close(CLOSE_TIMEOUT)
  }
}
