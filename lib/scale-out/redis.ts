// The only module that talks to Redis: leases (Lua compare-and-set), the
// heartbeat, and one pub/sub channel per instance. It knows nothing of
// documents or sessions; it reports what it sees (a message, a doubt about
// delivery) and the scale-out decides what that means.
//
// Two connections, both duplicated from what the user gave us (a URL or a
// node-redis client), so the user's own client is never reconfigured:
// - `commands`, with the offline queue disabled: a publish made while Redis is
//   unreachable fails at once instead of arriving after its session was reset;
// - `subscriber`, for this instance's channel. node-redis resubscribes when it
//   reconnects, but what was published meanwhile is gone: every reconnect is a
//   doubt about delivery.

import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisConnection } from './options.js'
import { CLAIM, HEARTBEAT, LEAVE, LIVENESS, OWNER, RELEASE, RENEW } from './scripts.js'

/** The Redis keys and timings of one scale-out. */
export interface BusOptions {
  /** Prefix of every key and channel. */
  prefix: string
  /** Lease time in ms. */
  leaseMs: number
  /** Heartbeat period in ms. */
  heartbeatInterval: number
  /** How long a heartbeat keeps an instance alive, in ms. */
  heartbeatTimeout: number
}

/** What the bus reports to the scale-out. */
export interface BusHandlers {
  /** A message on this instance's channel. */
  message: (message: Buffer) => void
  /**
   * Messages to this instance may have been lost: its subscriber reconnected,
   * or was found unsubscribed. Every session that crosses instances must resync.
   */
  doubt: (reason: string) => void
}

/** How another instance is, as Redis sees it (see {@link RedisBus.liveness}). */
export type Liveness = 'gone' | 'lapsed' | 'alive'

// By the LIVENESS script's answers: 0, 1, 2.
const LIVENESS_STATES: readonly Liveness[] = ['gone', 'lapsed', 'alive']

/** Who holds a document's lease after a claim: this instance or another, and the token of that claim. */
export interface Claim {
  owner: string
  token: string
}

interface Script {
  source: string
  sha1: string
}

// EVALSHA names a script by the SHA-1 of its source (https://redis.io/docs/latest/commands/evalsha/).
function script (source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') }
}

const scripts = {
  claim: script(CLAIM),
  renew: script(RENEW),
  release: script(RELEASE),
  heartbeat: script(HEARTBEAT),
  leave: script(LEAVE),
  liveness: script(LIVENESS),
  owner: script(OWNER)
}

// After a Redis restart its script cache is empty: fall back to EVAL once,
// which also loads the script (as node-redis's own script commands do).
async function run (connection: RedisConnection, { source, sha1 }: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await connection.evalSha(sha1, { keys, arguments: args })
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
    return await connection.eval(source, { keys, arguments: args })
  }
}

/**
 * One instance's connections to Redis. `start()` connects and subscribes;
 * `close()` removes the heartbeat and disconnects. Every method rejects with
 * node-redis's error when Redis cannot be reached (the offline queue is off).
 */
export class RedisBus {
  readonly #source: RedisConnection
  readonly #options: BusOptions
  readonly #instanceId: string
  readonly #log: FastifyBaseLogger
  readonly #handlers: BusHandlers
  readonly #instancesKey: string
  readonly #channel: string
  #commands: RedisConnection | null = null
  #subscriber: RedisConnection | null = null
  #heartbeat: NodeJS.Timeout | null = null
  // Consecutive heartbeats that found nobody subscribed to our channel.
  #unsubscribedBeats = 0
  // Logged once per outage, not once per reconnect attempt.
  #failing = false
  #closed = false

  constructor (source: RedisConnection, options: BusOptions, instanceId: string, log: FastifyBaseLogger, handlers: BusHandlers) {
    this.#source = source
    this.#options = options
    this.#instanceId = instanceId
    this.#log = log
    this.#handlers = handlers
    this.#instancesKey = `${options.prefix}:instances`
    this.#channel = this.channelOf(instanceId)
  }

  /** The pub/sub channel of an instance. */
  channelOf (instanceId: string): string {
    return `${this.#options.prefix}:to:${instanceId}`
  }

  #leaseKey (documentName: string): string {
    return `${this.#options.prefix}:lease:${documentName}`
  }

  get #connection (): RedisConnection {
    if (this.#commands === null) throw new Error('the Redis bus is not started')
    return this.#commands
  }

  /**
   * Connects both connections, subscribes to this instance's channel and
   * starts the heartbeat. Resolves once the first heartbeat is in Redis, so
   * that other instances see this one alive before it claims anything.
   *
   * @rejects with node-redis's error when Redis cannot be reached.
   */
  async start (): Promise<void> {
    const commands = this.#source.duplicate({ disableOfflineQueue: true })
    this.#watch(commands, 'commands')
    this.#commands = commands
    await commands.connect()
    await this.#subscribe()
    await this.#beat()
    this.#heartbeat = setInterval(() => { this.#beat().catch(this.#onError) }, this.#options.heartbeatInterval).unref()
  }

  #watch (connection: RedisConnection, role: string): void {
    let ready = false
    connection.on('error', (error) => this.#onError(error, role))
    connection.on('ready', () => {
      if (this.#failing) this.#log.info({ role }, 'scale-out: Redis is reachable again')
      this.#failing = false
      // node-redis resubscribed by itself; what was published meanwhile is lost.
      if (ready && role === 'subscriber') this.#handlers.doubt('the Redis subscriber reconnected')
      ready = true
    })
  }

  readonly #onError = (error: Error, role = 'commands'): void => {
    if (this.#closed) return
    if (this.#failing) {
      this.#log.debug({ err: error, role }, 'scale-out: Redis error')
      return
    }
    this.#failing = true
    this.#log.warn({ err: error, role }, 'scale-out: Redis error; retrying')
  }

  async #subscribe (): Promise<void> {
    const subscriber = this.#source.duplicate()
    this.#watch(subscriber, 'subscriber')
    this.#subscriber = subscriber
    await subscriber.connect()
    await subscriber.subscribe(this.#channel, this.#handlers.message, true)
  }

  // The heartbeat only counts while someone listens on our channel: an
  // instance that cannot be reached must not look alive. A subscriber that
  // node-redis believes ready but that Redis does not count (node-redis#2823:
  // no resubscribe after an output-buffer kill) is replaced.
  async #beat (): Promise<void> {
    const subscribers = Number(await run(this.#connection, scripts.heartbeat,
      [this.#instancesKey], [this.#instanceId, String(this.#options.heartbeatTimeout), this.#channel]))
    if (subscribers > 0 || this.#subscriber?.isReady !== true) {
      this.#unsubscribedBeats = 0
      return
    }
    if (++this.#unsubscribedBeats < 2) return
    this.#unsubscribedBeats = 0
    this.#log.warn('scale-out: the Redis subscriber is connected but not subscribed; reconnecting it')
    this.#subscriber.destroy()
    await this.#subscribe()
    this.#handlers.doubt('the Redis subscriber was not subscribed')
  }

  /**
   * Claims `documentName`'s lease for this instance unless a live instance holds it.
   * @param token unique among this instance's claims: the lease's value is `"<instanceId> <token>"`, so that
   *   renewing and releasing touch this claim's lease and no other.
   * @param suspects instances a publish just found unreachable: one of them
   *   holding the lease loses it if nobody listens on its channel.
   * @returns this instance and `token`, or the live holder and its token.
   */
  async claim (documentName: string, token: string, suspects: readonly string[] = []): Promise<Claim> {
    const [owner, held] = await run(this.#connection, scripts.claim,
      [this.#leaseKey(documentName), this.#instancesKey],
      [this.#instanceId, String(this.#options.leaseMs), this.channelOf(''), token, ...suspects]) as [string, string]
    return { owner, token: held }
  }

  /**
   * Renews this instance's leases. Never sets a lease again once it is gone.
   * @returns the names of the documents whose lease is not this claim's any more (another instance holds
   *   it, or it lapsed, or Redis lost it).
   */
  async renew (leases: ReadonlyArray<readonly [documentName: string, token: string]>): Promise<string[]> {
    if (leases.length === 0) return []
    const lost = await run(this.#connection, scripts.renew,
      leases.map(([name]) => this.#leaseKey(name)),
      [String(this.#options.leaseMs), ...leases.map(([, token]) => `${this.#instanceId} ${token}`)]) as number[]
    return lost.map(index => leases[index - 1][0])
  }

  /** Gives up a lease this instance holds under `token` (nothing happens if it does not). */
  async release (documentName: string, token: string): Promise<void> {
    await run(this.#connection, scripts.release, [this.#leaseKey(documentName)], [`${this.#instanceId} ${token}`])
  }

  /**
   * How each instance is: `alive` (it listens on its channel and its heartbeat has not lapsed), `lapsed`
   * (it listens, but its heartbeat lapsed: stopped, or only too busy to write it in time), `gone` (nobody
   * listens on its channel).
   */
  async liveness (instanceIds: readonly string[]): Promise<Liveness[]> {
    if (instanceIds.length === 0) return []
    const flags = await run(this.#connection, scripts.liveness, [this.#instancesKey], [this.channelOf(''), ...instanceIds]) as number[]
    return flags.map(flag => LIVENESS_STATES[flag])
  }

  /** The live holder of a document's lease, or null. */
  async ownerOf (documentName: string): Promise<string | null> {
    const owner = await run(this.#connection, scripts.owner, [this.#leaseKey(documentName), this.#instancesKey], [])
    return typeof owner === 'string' ? owner : null
  }

  /**
   * Publishes to another instance's channel.
   * @returns how many subscribers received it: 0 means nobody listens there now.
   * @rejects with node-redis's error, or when the bus is closed (a message sent as it stops).
   */
  async publish (instanceId: string, message: Uint8Array): Promise<number> {
    return await this.#connection.publish(this.channelOf(instanceId), Buffer.from(message.buffer, message.byteOffset, message.byteLength))
  }

  /**
   * Stops the heartbeat, removes this instance from the live set, and disconnects. Redis gets
   * `timeoutMs` to answer that goodbye; a Redis that is gone, or a connection that is half open,
   * does not hold `fastify.close()` up: the connections are then dropped.
   */
  async close (timeoutMs: number): Promise<void> {
    this.#closed = true
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    const connections = [this.#commands, this.#subscriber].filter((connection) => connection !== null)
    const commands = this.#commands
    this.#commands = this.#subscriber = null
    const goodbye = (async () => {
      // Others then see this instance gone at once, not after its heartbeat lapses.
      if (commands?.isReady === true) await run(commands, scripts.leave, [this.#instancesKey], [this.#instanceId]).catch(this.#onError)
      await Promise.allSettled(connections.map((connection) => connection.isReady ? connection.close() : connection.destroy()))
      return true
    })()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<false>((resolve) => { timer = setTimeout(resolve, timeoutMs, false) })
    const done = await Promise.race([goodbye, timedOut])
    clearTimeout(timer)
    if (done) return
    for (const connection of connections) {
      try {
        connection.destroy()
      } catch {
        // Already closed: nothing to drop.
      }
    }
  }
}
