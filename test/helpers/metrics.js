// Reading what a prom-client registry would answer a scrape with.

/**
 * Scrapes `registry` (its collect() callbacks run, as for a real scrape).
 *
 * @param {import('prom-client').Registry} registry
 * @returns {Promise<Scrape>}
 */
export async function scrape (registry) {
  const metrics = await registry.getMetricsAsJSON()
  const samples = metrics.flatMap((metric) => metric.values.map((sample) => ({ name: sample.metricName ?? metric.name, labels: sample.labels, value: sample.value })))
  return {
    samples,
    text: await registry.metrics(),
    value (name, labels = {}) {
      let sum = 0
      for (const sample of samples) {
        if (sample.name === name && Object.entries(labels).every(([key, value]) => String(sample.labels[key]) === String(value))) sum += sample.value
      }
      return sum
    }
  }
}

/**
 * @typedef {object} Scrape
 * @property {Array<{ name: string, labels: Record<string, string | number>, value: number }>} samples every sample,
 *   a histogram's `_bucket`, `_sum` and `_count` under those names.
 * @property {string} text the Prometheus text format.
 * @property {(name: string, labels?: Record<string, string | number>) => number} value the sum of the samples
 *   named `name` whose labels include `labels` (0 when there is none).
 */

// The values each label may take: bounded sets, never a document name, a user or an instance id.
const FRAME_TYPES = ['sync-step-1', 'sync-step-2', 'update', 'awareness', 'auth', 'query-awareness', 'stateless', 'close', 'sync-status', 'ping', 'pong', 'other']
const HOOKS = ['onConnect', 'onAuthenticate', 'connected', 'onLoadDocument', 'afterLoadDocument', 'onChange', 'onStoreDocument', 'afterStoreDocument',
  'onAwarenessUpdate', 'beforeHandleMessage', 'onStateless', 'onDisconnect', 'beforeUnloadDocument', 'afterUnloadDocument', 'onDestroy']
const LIMITS = ['authQueueMaxBytes', 'authQueueMaxFrames', 'authQueueMaxDocuments', 'authTimeout', 'maxDocumentsPerSocket', 'maxDocumentNameLength',
  'maxAuthFailures', 'maxAwarenessStateBytes', 'maxAwarenessStates', 'maxAwarenessClientsPerConnection', 'maxDocumentBytes', 'maxUnstoredBytes',
  'maxBufferedAmount', 'allowedOrigins']
const BOUNDED = {
  protocol: ['hocuspocus', 'y-websocket', 'detecting', 'none', 'direct'],
  direction: ['in', 'out'],
  type: FRAME_TYPES,
  status: /^([1-5]\d\d|other)$/,
  code: /^(10(0\d|1[0-5])|4205|4400|4403|4408|4413|4429|other)$/,
  hook: HOOKS,
  limit: LIMITS,
  operation: ['load', 'claim', 'append', 'compact'],
  applied: ['true', 'false'],
  outcome: ['loaded', 'failed'],
  side: ['proxied', 'served'],
  reason: ['gap', 'undecodable', 'subscriber', 'unreachable', 'publish', 'overflow'],
  change: ['claimed', 'released', 'lost'],
  le: /^(\d+(\.\d+)?|\+Inf)$/
}

/**
 * Fails unless every metric is named `collab_…`, every label is one the README documents with a value
 * from its bounded set, and no `secret` (a document name, an instance id, a user) appears anywhere in
 * the scrape.
 *
 * @param {Scrape} scraped
 * @param {string[]} secrets
 */
export function assertBounded (scraped, secrets) {
  for (const { name, labels } of scraped.samples) {
    if (!name.startsWith('collab_')) throw new Error(`${name} is not named collab_…`)
    for (const [label, value] of Object.entries(labels)) {
      const allowed = BOUNDED[label]
      if (allowed === undefined) throw new Error(`${name} has the undocumented label ${label}`)
      const ok = allowed instanceof RegExp ? allowed.test(String(value)) : allowed.includes(String(value))
      if (!ok) throw new Error(`${name}{${label}="${value}"} is outside its bounded set`)
    }
  }
  for (const secret of secrets) {
    if (scraped.text.includes(secret)) throw new Error(`the scrape holds ${JSON.stringify(secret)}`)
  }
}
