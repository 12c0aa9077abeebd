// Starts the metrics of one app. The only module that loads prom-client, and
// only when the `metrics` option asks for it: an app without metrics never
// loads prom-client nor the metrics module.

import type { FastifyInstance } from 'fastify'
import { FST_COLLAB_METRICS_MISSING } from '../errors.js'
import type { ResolvedMetricsOptions } from './options.js'
import type { MetricSources } from './sources.js'

/**
 * Registers the app's metrics and subscribes them to the diagnostics channels; `fastify.close()` stops them.
 * @rejects FST_COLLAB_METRICS_MISSING when prom-client cannot be loaded; FST_COLLAB_METRICS_CONFLICT when the
 *   registry holds a `collab_` metric fastify-collab did not register.
 */
export async function startMetrics (fastify: FastifyInstance, options: NonNullable<ResolvedMetricsOptions>, sources: MetricSources): Promise<void> {
  const client = await import('prom-client').catch((cause: unknown) => { throw new FST_COLLAB_METRICS_MISSING({ cause }) })
  const { attachMetrics } = await import('./metrics.js')
  const detach = attachMetrics(client, options.registry ?? client.register, sources)
  fastify.addHook('onClose', async () => detach())
}
