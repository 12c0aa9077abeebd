import { FST_COLLAB_INVALID_OPTION } from '../errors.js'

/**
 * A prom-client 15 `Registry`: `new Registry()`, or prom-client's default `register`. Typed by the calls
 * the plugin makes, so that an app without prom-client installed still type-checks.
 */
export interface MetricsRegistry {
  registerMetric (metric: unknown): void
  getSingleMetric (name: string): unknown
  removeSingleMetric (name: string): void
}

/** The object form of the `metrics` option. */
export interface MetricsOptions {
  /**
   * Where the metrics are registered. Several apps may share one registry: each counter then counts for
   * all of them, and each gauge sums them.
   * @defaultValue prom-client's default registry (`register`)
   */
  registry?: MetricsRegistry
}

/** The `metrics` option of the plugin. */
export interface MetricsPluginOptions {
  /**
   * Prometheus metrics through prom-client, an optional peer dependency (`npm install prom-client`), loaded
   * only when this option asks for metrics. `true` registers them on prom-client's default registry,
   * `{ registry }` on yours. Every name starts with `collab_`; no label carries a document name, a user or
   * an instance id. The metrics stop when `fastify.close()` begins. See docs/metrics.md.
   * @defaultValue false
   * @throws FST_COLLAB_INVALID_OPTION at registration for a value that is neither a boolean nor `{ registry }`.
   * Registration rejects with FST_COLLAB_METRICS_MISSING when prom-client cannot be loaded, and with
   * FST_COLLAB_METRICS_CONFLICT when the registry holds a `collab_` metric of its own.
   */
  metrics?: boolean | MetricsOptions
}

/**
 * The `metrics` option resolved: null without metrics; `registry` null for prom-client's default.
 * @internal
 */
export type ResolvedMetricsOptions = { registry: MetricsRegistry | null } | null

/**
 * Validates the `metrics` option.
 * @throws FST_COLLAB_INVALID_OPTION when it is neither a boolean nor `{ registry }` with a registry.
 * @internal
 */
export function resolveMetricsOptions (metrics: unknown): ResolvedMetricsOptions {
  if (metrics === undefined || metrics === false) return null
  if (metrics === true) return { registry: null }
  if (metrics === null || typeof metrics !== 'object') throw new FST_COLLAB_INVALID_OPTION('metrics', 'expected a boolean or { registry }')
  const { registry } = metrics as { registry?: unknown }
  if (registry === undefined) return { registry: null }
  if (typeof (registry as MetricsRegistry | null)?.registerMetric !== 'function') {
    throw new FST_COLLAB_INVALID_OPTION('metrics.registry', 'expected a prom-client Registry')
  }
  return { registry: registry as MetricsRegistry }
}
