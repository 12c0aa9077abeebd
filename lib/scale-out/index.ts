// The `fastify-collab/redis` entry point: the Redis scale-out. It is the only
// module that loads `redis` (node-redis), an optional peer dependency.

import { createClient } from 'redis'
import { createScaleOut, type RedisConnection, type RedisScaleOut, type RedisScaleOutOptions, resolveScaleOutOptions } from './options.js'

export type { RedisConnection, RedisScaleOut, RedisScaleOutOptions } from './options.js'

/**
 * Serves every document from exactly one instance (its owner, chosen by a Redis lease with a fencing epoch),
 * with clients on the other instances proxied through Redis pub/sub. See docs/scale-out.md.
 *
 * ```js
 * import { redis } from 'fastify-collab/redis'
 * await app.register(fastifyCollab, {
 *   extensions: [sqlite({ path: './data/collab.sqlite' })],
 *   scaleOut: redis({ url: process.env.REDIS_URL })
 * })
 * ```
 *
 * Nothing connects until the plugin registers; registration then rejects with node-redis's error when
 * Redis cannot be reached, and with FST_COLLAB_SCALE_OUT_UNFENCED when no extension stores with fencing.
 * @throws FST_COLLAB_INVALID_OPTION for a bad option (see {@link RedisScaleOutOptions}).
 */
export function redis (options: RedisScaleOutOptions): RedisScaleOut {
  const { url, client, ...settings } = resolveScaleOutOptions(options)
  // An unconnected client is only a template: the scale-out connects duplicates of it.
  const connection = client ?? createClient({ url }) as unknown as RedisConnection
  return createScaleOut({ connection, settings })
}

export default redis
