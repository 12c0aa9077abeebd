// The Prometheus metrics of fastify-collab, on prom-client (given by start.ts,
// which loads it). Every metric is fed by one of two things, so that each
// instrumentation point exists once, in the code that does the work:
// - the diagnostics channels (lib/diagnostics.ts): the metrics are one more
//   subscriber, with counters and histograms updated as events come;
// - what the app holds anyway, read at scrape time by `collect()` callbacks:
//   the gauges (lib/metrics/sources.ts), and the frame counts that the hot
//   paths add to in place (lib/collab/counts.ts).
// Several apps may share a registry (the default one, in tests or a process
// that serves two apps): the metrics are made once per registry, the events
// of each attached app are counted, and the gauges sum the apps.

import type { Channel, ChannelListener, TracingChannelSubscribers } from 'node:diagnostics_channel'
import type * as PromClient from 'prom-client'
import type { Counter, Histogram, Registry } from 'prom-client'
import { Counts, DIRECTIONS, PROTOCOLS } from '../collab/counts.js'
import { FRAME_TYPES } from '../collab/protocol/frame-type.js'
import type { InstanceIdentity } from '../diagnostics.js'
import {
  documentLoadChannel, type DocumentLoadTrace, hookChannel, type HookTrace, limitChannel, type LimitEvent, linkChannel,
  type LinkMessageEvent, ownershipChannel, type OwnershipEvent, sessionsResetChannel, type SessionsResetEvent, socketCloseChannel,
  type SocketCloseEvent, storeChannel, storeRetryChannel, type StoreRetryEvent, type StoreTrace, updateAckChannel, type UpdateAckEvent,
  upgradeChannel, type UpgradeEvent
} from '../diagnostics.js'
import { FST_COLLAB_METRICS_CONFLICT } from '../errors.js'
import { closeCodeLabel, statusLabel } from './labels.js'
import type { MetricsRegistry } from './options.js'
import { type MetricSources, readDocuments, readScaleOut, readSockets } from './sources.js'

type Client = typeof PromClient

// Seconds, from half a millisecond (a hook that returns at once) to 10 s (a store that retries).
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
// A load reads a snapshot and a log of up to maxLogUpdates (10,000 by default, about 60 ms here).
const LOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
// Updates per group commit, up to the default maxBatchUpdates (1000).
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

// The labels of each slot of the frame counts (see Counts.slot).
const SLOT_LABELS: Array<{ direction: string, protocol: string, type: string }> = []
for (const [d, direction] of DIRECTIONS.entries()) {
  for (const protocol of PROTOCOLS) {
    for (const [t, type] of FRAME_TYPES.entries()) SLOT_LABELS[Counts.slot(d, protocol, t)] = { direction, protocol, type }
  }
}

/** A channel's subscriber, typed by the payload the channel carries (lib/diagnostics.ts). */
function on<T> (channel: Channel, handler: (message: T) => void): [Channel, ChannelListener] {
  return [channel, handler as ChannelListener]
}

/** TracingChannel subscribers: Node subscribes only the handlers given (its typings ask for all five). */
function tracing<T extends object> (handlers: Partial<TracingChannelSubscribers<T>>): TracingChannelSubscribers<T> {
  return handlers as TracingChannelSubscribers<T>
}

// When a traced operation started, kept on its context until it ends.
const kStart = Symbol('fastify-collab.metrics.start')
type Timed = { [kStart]?: number }

function secondsSince (context: Timed): number | null {
  const start = context[kStart]
  return start === undefined ? null : (performance.now() - start) / 1000
}

/** One app as the metrics know it: where to read it, and its frame counts as last reported. */
interface App {
  readonly sources: MetricSources
  readonly counts: Counts
  readonly reported: Counts
}

const byRegistry = new WeakMap<object, CollabMetrics>()

/**
 * Registers the metrics on `registry` (once per registry) and counts the app of `sources` in them.
 * @returns the detach, for `fastify.close()`.
 * @throws FST_COLLAB_METRICS_CONFLICT when the registry holds a metric of one of the names that fastify-collab did not register.
 */
export function attachMetrics (client: Client, registry: MetricsRegistry, sources: MetricSources): () => void {
  let metrics = byRegistry.get(registry)
  if (metrics === undefined) byRegistry.set(registry, metrics = new CollabMetrics(client, registry as unknown as Registry))
  const attached = metrics
  attached.attach(sources)
  return () => {
    if (attached.detach(sources)) byRegistry.delete(registry)
  }
}

class CollabMetrics {
  readonly #registry: Registry
  readonly #names: string[] = []
  readonly #apps = new Map<InstanceIdentity, App>()

  readonly #upgrades: Counter<'status'>
  readonly #frames: Counter<'direction' | 'protocol' | 'type'>
  readonly #frameBytes: Counter<'direction' | 'protocol' | 'type'>
  readonly #updates: Counter
  readonly #hookErrors: Counter<'hook'>
  readonly #hookDuration: Histogram<'hook'>
  readonly #closes: Counter<'code'>
  readonly #limits: Counter<'limit'>
  readonly #storeDuration: Histogram<'operation'>
  readonly #storeBatch: Histogram
  readonly #storeFailures: Counter<'operation'>
  readonly #storeRetries: Counter
  readonly #ackDuration: Histogram<'applied'>
  readonly #loadDuration: Histogram<'outcome'>
  readonly #linkMessages: Counter<'direction'>
  readonly #linkBytes: Counter<'direction'>
  readonly #resets: Counter<'reason'>
  readonly #ownership: Counter<'change'>

  constructor (client: Client, registry: Registry) {
    this.#registry = registry
    const registers = [registry]
    const apps = (): Iterable<MetricSources> => [...this.#apps.values()].map(app => app.sources)
    const flush = (): void => { for (const app of this.#apps.values()) this.#flush(app) }
    try {
      this.#add('collab_sockets', () => new client.Gauge({
        name: 'collab_sockets',
        help: 'Open upgraded WebSockets, by wire protocol (detecting: a collab socket before its first frame; none: not a collab socket).',
        labelNames: ['protocol'],
        registers,
        collect () {
          for (const [protocol, count] of Object.entries(readSockets(apps()).open)) this.set({ protocol }, count)
        }
      }))
      this.#add('collab_send_buffer_bytes', () => new client.Gauge({
        name: 'collab_send_buffer_bytes',
        help: 'Bytes the upgraded sockets hold unsent (ws bufferedAmount), summed.',
        registers,
        collect () { this.set(readSockets(apps()).bufferedBytes) }
      }))
      this.#add('collab_documents', () => new client.Gauge({
        name: 'collab_documents',
        help: 'Loaded documents, those still loading included.',
        registers,
        collect () { this.set(readDocuments(apps()).documents) }
      }))
      this.#add('collab_sessions', () => new client.Gauge({
        name: 'collab_sessions',
        help: 'Sessions attached to loaded documents (a socket session per document, or a direct connection), by protocol.',
        labelNames: ['protocol'],
        registers,
        collect () {
          for (const [protocol, count] of Object.entries(readDocuments(apps()).sessions)) this.set({ protocol }, count)
        }
      }))
      this.#add('collab_awareness_states', () => new client.Gauge({
        name: 'collab_awareness_states',
        help: 'Awareness states held by the loaded documents.',
        registers,
        collect () { this.set(readDocuments(apps()).awarenessStates) }
      }))
      this.#add('collab_unstored_bytes', () => new client.Gauge({
        name: 'collab_unstored_bytes',
        help: 'Bytes of applied updates whose onChange hooks have not settled (the store backlog that maxUnstoredBytes bounds).',
        registers,
        collect () { this.set(readDocuments(apps()).unstoredBytes) }
      }))
      this.#add('collab_scaleout_owned_documents', () => new client.Gauge({
        name: 'collab_scaleout_owned_documents',
        help: 'Documents this instance owns (holds the Redis lease of); 0 without scaleOut.',
        registers,
        collect () { this.set(readScaleOut(apps()).ownedDocuments) }
      }))
      this.#add('collab_scaleout_sessions', () => new client.Gauge({
        name: 'collab_scaleout_sessions',
        help: 'Cross-instance sessions: proxied (a socket here, its document owned elsewhere) and served (this owner serves a socket elsewhere).',
        labelNames: ['side'],
        registers,
        collect () {
          const stats = readScaleOut(apps())
          this.set({ side: 'proxied' }, stats.proxiedSessions)
          this.set({ side: 'served' }, stats.servedSessions)
        }
      }))
      this.#upgrades = this.#add('collab_upgrades_total', () => new client.Counter({
        name: 'collab_upgrades_total',
        help: 'WebSocket upgrade requests by outcome: 101, the HTTP status of the refusal, or 499 when the client left first.',
        labelNames: ['status'],
        registers
      }))
      this.#frames = this.#add('collab_frames_total', () => new client.Counter({
        name: 'collab_frames_total',
        help: 'Frames received (in) and sent (out) by collab sockets, by wire protocol and message type.',
        labelNames: ['direction', 'protocol', 'type'],
        registers,
        collect: flush
      }))
      this.#frameBytes = this.#add('collab_frame_bytes_total', () => new client.Counter({
        name: 'collab_frame_bytes_total',
        help: 'Bytes of those frames (WebSocket payloads), by direction, wire protocol and message type.',
        labelNames: ['direction', 'protocol', 'type'],
        registers,
        collect: flush
      }))
      this.#updates = this.#add('collab_updates_applied_total', () => new client.Counter({
        name: 'collab_updates_applied_total',
        help: 'Yjs updates applied to loaded documents (from clients, direct connections and other sources).',
        registers,
        collect: flush
      }))
      this.#hookErrors = this.#add('collab_hook_errors_total', () => new client.Counter({
        name: 'collab_hook_errors_total',
        help: 'Hook chains that threw, by hook (for onConnect and onAuthenticate a throw is a refusal).',
        labelNames: ['hook'],
        registers
      }))
      this.#hookDuration = this.#add('collab_hook_duration_seconds', () => new client.Histogram({
        name: 'collab_hook_duration_seconds',
        help: 'Time a hook chain took (every extension\'s hook of that name, then the top-level one), by hook.',
        labelNames: ['hook'],
        buckets: DURATION_BUCKETS,
        registers
      }))
      this.#closes = this.#add('collab_socket_closes_total', () => new client.Counter({
        name: 'collab_socket_closes_total',
        help: 'Upgraded sockets closed, by close code (a code neither RFC 6455 nor fastify-collab defines: other).',
        labelNames: ['code'],
        registers
      }))
      this.#limits = this.#add('collab_limit_refusals_total', () => new client.Counter({
        name: 'collab_limit_refusals_total',
        help: 'Refusals by a bound: the collab limits, maxBufferedAmount and allowedOrigins.',
        labelNames: ['limit'],
        registers
      }))
      this.#storeDuration = this.#add('collab_store_duration_seconds', () => new client.Histogram({
        name: 'collab_store_duration_seconds',
        help: 'Time a call of the storage extension to its store took, by operation (append: a group commit).',
        labelNames: ['operation'],
        buckets: DURATION_BUCKETS,
        registers
      }))
      this.#storeBatch = this.#add('collab_store_batch_updates', () => new client.Histogram({
        name: 'collab_store_batch_updates',
        help: 'Updates per committed group commit.',
        buckets: BATCH_BUCKETS,
        registers
      }))
      this.#storeFailures = this.#add('collab_store_failures_total', () => new client.Counter({
        name: 'collab_store_failures_total',
        help: 'Store calls that failed, by operation.',
        labelNames: ['operation'],
        registers
      }))
      this.#storeRetries = this.#add('collab_store_retries_total', () => new client.Counter({
        name: 'collab_store_retries_total',
        help: 'Group commits that failed and were scheduled again.',
        registers
      }))
      this.#ackDuration = this.#add('collab_update_ack_duration_seconds', () => new client.Histogram({
        name: 'collab_update_ack_duration_seconds',
        help: 'Time from an update reaching its session to its Hocuspocus SyncStatus (after onChange: with a store, after its write), by applied (true) or refused (false).',
        labelNames: ['applied'],
        buckets: DURATION_BUCKETS,
        registers
      }))
      this.#loadDuration = this.#add('collab_document_load_duration_seconds', () => new client.Histogram({
        name: 'collab_document_load_duration_seconds',
        help: 'Time a document took to load (onLoadDocument and afterLoadDocument), by outcome.',
        labelNames: ['outcome'],
        buckets: LOAD_BUCKETS,
        registers
      }))
      this.#linkMessages = this.#add('collab_scaleout_messages_total', () => new client.Counter({
        name: 'collab_scaleout_messages_total',
        help: 'Messages (Redis PUBLISH) to (out) and from (in) other instances.',
        labelNames: ['direction'],
        registers
      }))
      this.#linkBytes = this.#add('collab_scaleout_message_bytes_total', () => new client.Counter({
        name: 'collab_scaleout_message_bytes_total',
        help: 'Bytes of those messages.',
        labelNames: ['direction'],
        registers
      }))
      this.#resets = this.#add('collab_scaleout_sessions_reset_total', () => new client.Counter({
        name: 'collab_scaleout_sessions_reset_total',
        help: 'Cross-instance sessions reset (their clients resync), by reason: gap, undecodable, subscriber, unreachable, stalled, publish, overflow.',
        labelNames: ['reason'],
        registers
      }))
      this.#ownership = this.#add('collab_scaleout_ownership_changes_total', () => new client.Counter({
        name: 'collab_scaleout_ownership_changes_total',
        help: 'Documents this instance began owning (claimed), gave back (released) or stepped down from (lost).',
        labelNames: ['change'],
        registers
      }))
    } catch (error) {
      this.#unregister()
      throw error
    }
  }

  /** Registers one metric, unless the registry already has its name. */
  #add<T> (name: string, make: () => T): T {
    if (this.#registry.getSingleMetric(name) !== undefined) {
      throw new FST_COLLAB_METRICS_CONFLICT(name, { cause: new Error(`A metric with the name ${name} has already been registered.`) })
    }
    const metric = make()
    this.#names.push(name)
    return metric
  }

  #unregister (): void {
    for (const name of this.#names) this.#registry.removeSingleMetric(name)
  }

  attach (sources: MetricSources): void {
    const counts = new Counts()
    sources.core.counts = counts
    if (this.#apps.size === 0) this.#subscribe()
    this.#apps.set(sources.collab, { sources, counts, reported: new Counts() })
  }

  /** @returns true when it was the last app: the metrics have left the registry. */
  detach (sources: MetricSources): boolean {
    const app = this.#apps.get(sources.collab)
    if (app === undefined) return this.#apps.size === 0
    this.#flush(app)
    this.#apps.delete(sources.collab)
    sources.core.counts = null
    if (this.#apps.size > 0) return false
    this.#unsubscribe()
    this.#unregister()
    return true
  }

  /** Adds what an app's frame counts gained since the last scrape to the counters. */
  #flush ({ counts, reported }: App): void {
    for (let slot = 0; slot < SLOT_LABELS.length; slot++) {
      const frames = counts.frames[slot] - reported.frames[slot]
      if (frames === 0) continue
      this.#frames.inc(SLOT_LABELS[slot], frames)
      this.#frameBytes.inc(SLOT_LABELS[slot], counts.bytes[slot] - reported.bytes[slot])
      reported.frames[slot] = counts.frames[slot]
      reported.bytes[slot] = counts.bytes[slot]
    }
    if (counts.updates === reported.updates) return
    this.#updates.inc(counts.updates - reported.updates)
    reported.updates = counts.updates
  }

  #ours (message: { instance: InstanceIdentity | undefined }): boolean {
    return message.instance !== undefined && this.#apps.has(message.instance)
  }

  // --- the subscribers --------------------------------------------------------

  readonly #start = (context: Timed): void => {
    (context as Timed)[kStart] ??= performance.now()
  }

  readonly #hook = tracing<HookTrace & Timed>({
    start: this.#start,
    asyncEnd: (context: HookTrace & Timed): void => {
      const seconds = secondsSince(context)
      if (seconds !== null && this.#ours(context)) this.#hookDuration.observe({ hook: context.hook }, seconds)
    },
    error: (context: HookTrace): void => {
      if (this.#ours(context)) this.#hookErrors.inc({ hook: context.hook })
    }
  })

  readonly #load = tracing<DocumentLoadTrace & Timed>({
    start: this.#start,
    asyncEnd: (context: DocumentLoadTrace & Timed): void => {
      const seconds = secondsSince(context)
      if (seconds !== null && this.#ours(context)) this.#loadDuration.observe({ outcome: 'error' in context ? 'failed' : 'loaded' }, seconds)
    }
  })

  readonly #store = tracing<StoreTrace & Timed>({
    start: this.#start,
    asyncEnd: (context: StoreTrace & Timed): void => {
      const seconds = secondsSince(context)
      if (seconds === null || !this.#ours(context)) return
      this.#storeDuration.observe({ operation: context.operation }, seconds)
      if (context.operation === 'append' && !('error' in context)) this.#storeBatch.observe(context.updates ?? 0)
    },
    error: (context: StoreTrace): void => {
      if (this.#ours(context)) this.#storeFailures.inc({ operation: context.operation })
    }
  })

  readonly #events: Array<[Channel, ChannelListener]> = [
    on(upgradeChannel, (message: UpgradeEvent) => { if (this.#ours(message)) this.#upgrades.inc({ status: statusLabel(message.statusCode) }) }),
    on(socketCloseChannel, (message: SocketCloseEvent) => { if (this.#ours(message)) this.#closes.inc({ code: closeCodeLabel(message.code) }) }),
    on(limitChannel, (message: LimitEvent) => { if (this.#ours(message)) this.#limits.inc({ limit: message.limit }) }),
    on(updateAckChannel, (message: UpdateAckEvent) => {
      if (this.#ours(message)) this.#ackDuration.observe({ applied: String(message.applied) }, message.durationMs / 1000)
    }),
    on(storeRetryChannel, (message: StoreRetryEvent) => { if (this.#ours(message)) this.#storeRetries.inc() }),
    on(ownershipChannel, (message: OwnershipEvent) => { if (this.#ours(message)) this.#ownership.inc({ change: message.change }) }),
    on(sessionsResetChannel, (message: SessionsResetEvent) => { if (this.#ours(message)) this.#resets.inc({ reason: message.reason }, message.sessions) }),
    on(linkChannel, (message: LinkMessageEvent) => {
      if (!this.#ours(message)) return
      this.#linkMessages.inc({ direction: message.direction })
      this.#linkBytes.inc({ direction: message.direction }, message.bytes)
    })
  ]

  #subscribe (): void {
    hookChannel.subscribe(this.#hook)
    documentLoadChannel.subscribe(this.#load)
    storeChannel.subscribe(this.#store)
    for (const [channel, handler] of this.#events) channel.subscribe(handler)
  }

  #unsubscribe (): void {
    hookChannel.unsubscribe(this.#hook)
    documentLoadChannel.unsubscribe(this.#load)
    storeChannel.unsubscribe(this.#store)
    for (const [channel, handler] of this.#events) channel.unsubscribe(handler)
  }
}
