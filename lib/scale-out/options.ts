import { FST_COLLAB_INVALID_OPTION } from '../errors.js'

/**
 * What the scale-out needs of a node-redis 6 client (`createClient()`) or
 * Sentinel client (`createSentinel()`). Only `duplicate` is called on the
 * client given: the scale-out works on its own duplicates.
 */
export interface RedisConnection {
  duplicate (overrides?: { disableOfflineQueue?: boolean }): RedisConnection
  connect (): Promise<unknown>
  close (): Promise<void>
  destroy (): unknown
  on (event: 'error', listener: (error: Error) => void): unknown
  on (event: 'ready', listener: () => void): unknown
  readonly isReady: boolean
  publish (channel: string, message: Buffer): Promise<number>
  subscribe (channel: string, listener: (message: Buffer) => unknown, bufferMode: true): Promise<unknown>
  evalSha (sha1: string, options: { keys: string[], arguments: string[] }): Promise<unknown>
  eval (script: string, options: { keys: string[], arguments: string[] }): Promise<unknown>
}

/**
 * Options of `redis()`, the Redis scale-out (`fastify-collab/redis`). Give
 * `url` or `client`. Timings are in ms, sizes in bytes.
 */
export interface RedisScaleOutOptions {
  /** A `redis[s]://[[user][:password]@]host[:port][/db]` URL, for node-redis's `createClient({ url })`. */
  url?: string
  /**
   * An existing node-redis 6 client (`createClient()`) or Sentinel client (`createSentinel()`).
   * The scale-out only calls its `duplicate()`: it connects, configures and closes its two duplicates
   * (one for commands, with the offline queue disabled, one subscriber) and never touches yours.
   */
  client?: RedisConnection
  /** Prefix of every Redis key and channel, so that several apps can share one Redis. Default `'fastify-collab'`. */
  prefix?: string
  /**
   * Lifetime of a document's lease in ms, renewed four times per period. An owner that could not renew for
   * a whole period stops owning its documents (their clients resync), since another instance may hold them by
   * then. Default 5000.
   */
  leaseMs?: number
  /** How often an instance writes its heartbeat (and checks those of the instances it shares sessions with), in ms. Default 500. */
  heartbeatInterval?: number
  /**
   * How long a heartbeat keeps an instance alive, in ms. Once it lapses, the instance's documents may be taken
   * over by any other, and once it has also sent nothing for this long, the sessions shared with it end: its
   * users leave everyone's presence within `heartbeatTimeout + heartbeatInterval`. A process whose event loop
   * stalls longer than this loses its documents (safely: its writes are fenced). A process that dies is seen
   * sooner: nobody listens on its channel any more, and its documents are taken over at once. Default 5000:
   * an owner of 384 busy clients sharing one core with two other instances and Redis stalled for up to 1.7 s
   * (bench/scale-out.js); 2000 reset its sessions.
   */
  heartbeatTimeout?: number
  /**
   * Bytes that may wait for one other instance (queued, or published and not yet confirmed by Redis). Past half
   * of it, the proxied sessions that feed the link are paused; past all of it, every session shared with that
   * instance is reset (close 4205: the clients reconnect and resync). Default 16 MiB (16777216).
   */
  maxLinkBytes?: number
  /** How long an instance waits for a document's owner to attach a proxied session, in ms; then the client is refused and retries. Default 5000. */
  openTimeout?: number
}

/**
 * A scale-out for the plugin's `scaleOut` option, made by `redis()` (`fastify-collab/redis`). Opaque: the
 * plugin starts it at registration and stops it at `fastify.close()`; anything else given as `scaleOut`
 * is refused with FST_COLLAB_INVALID_OPTION.
 */
export interface RedisScaleOut {
  readonly scaleOut: 'redis'
}

/**
 * The timings and bounds of a scale-out, resolved (see {@link RedisScaleOutOptions}).
 * @internal
 */
export interface ScaleOutSettings {
  prefix: string
  leaseMs: number
  heartbeatInterval: number
  heartbeatTimeout: number
  maxLinkBytes: number
  openTimeout: number
}

/**
 * What a RedisScaleOut stands for: the connection its two connections are duplicated from, and the settings.
 * @internal
 */
export interface ScaleOutConfig {
  readonly connection: RedisConnection
  readonly settings: ScaleOutSettings
}

// Kept out of the object an app holds, so that nothing of it is public.
const configs = new WeakMap<RedisScaleOut, ScaleOutConfig>()

/** @internal */
export function createScaleOut (config: ScaleOutConfig): RedisScaleOut {
  const scaleOut: RedisScaleOut = Object.freeze({ scaleOut: 'redis' })
  configs.set(scaleOut, config)
  return scaleOut
}

/**
 * The config of a RedisScaleOut made by `redis()`; undefined for anything else.
 * @internal
 */
export function configOf (option: unknown): ScaleOutConfig | undefined {
  return configs.get(option as RedisScaleOut)
}

function positive (options: Record<string, unknown>, name: string, fallback: number): number {
  const value = options[name] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new FST_COLLAB_INVALID_OPTION(`scaleOut.${name}`, 'expected a whole number > 0')
  }
  return value
}

/**
 * Validates the options of `redis()` and applies their defaults.
 * @internal
 * @throws FST_COLLAB_INVALID_OPTION when neither or both of `url` and `client` are given, or a timing or bound is
 *   not a whole number > 0, or `heartbeatTimeout` is not longer than `heartbeatInterval`.
 */
export function resolveScaleOutOptions (options: RedisScaleOutOptions): ScaleOutSettings & { url?: string, client?: RedisConnection } {
  if (options === null || typeof options !== 'object') throw new FST_COLLAB_INVALID_OPTION('scaleOut', 'expected redis({ url }) or redis({ client })')
  const { url, client, prefix = 'fastify-collab' } = options
  if ((url === undefined) === (client === undefined)) throw new FST_COLLAB_INVALID_OPTION('scaleOut', 'give exactly one of `url` and `client`')
  if (url !== undefined && typeof url !== 'string') throw new FST_COLLAB_INVALID_OPTION('scaleOut.url', 'expected a redis:// URL')
  if (client !== undefined && typeof client?.duplicate !== 'function') throw new FST_COLLAB_INVALID_OPTION('scaleOut.client', 'expected a node-redis client')
  if (typeof prefix !== 'string' || prefix === '') throw new FST_COLLAB_INVALID_OPTION('scaleOut.prefix', 'expected a non-empty string')
  const raw = options as Record<string, unknown>
  const settings = {
    url,
    client,
    prefix,
    leaseMs: positive(raw, 'leaseMs', 5000),
    heartbeatInterval: positive(raw, 'heartbeatInterval', 500),
    heartbeatTimeout: positive(raw, 'heartbeatTimeout', 5000),
    maxLinkBytes: positive(raw, 'maxLinkBytes', 16 * 1024 * 1024),
    openTimeout: positive(raw, 'openTimeout', 5000)
  }
  if (settings.heartbeatTimeout <= settings.heartbeatInterval) {
    throw new FST_COLLAB_INVALID_OPTION('scaleOut.heartbeatTimeout', 'expected more than heartbeatInterval')
  }
  return settings
}
