import type { CollabHost, Router } from '../collab/contracts.js'
import { FST_COLLAB_INVALID_OPTION, FST_COLLAB_SCALE_OUT_UNFENCED } from '../errors.js'
import type { Fence } from './ownership.js'
import { configOf } from './options.js'
import { ScaleOut } from './scale-out.js'

/**
 * Starts the `scaleOut` option's scale-out for the collab core: connects to Redis; the core then routes
 * every document through the returned router.
 * @param extensions the `extensions` option: exactly one must issue fencing epochs (a storage extension
 *   whose store implements `claim`).
 * @rejects FST_COLLAB_INVALID_OPTION when `scaleOut` was not made by `redis()`;
 *   FST_COLLAB_SCALE_OUT_UNFENCED when not exactly one extension stores with fencing;
 *   node-redis's error when Redis cannot be reached.
 */
export async function startScaleOut (host: CollabHost, option: unknown, extensions: readonly object[] = []): Promise<Router> {
  const config = configOf(option)
  if (config === undefined) throw new FST_COLLAB_INVALID_OPTION('scaleOut', "expected redis({ url }) from 'fastify-collab/redis'")
  // Two owners of one document (a paused one waking up) are harmless only if the store refuses the stale
  // one; and one store issues the epochs (two would each count their own).
  const fences = extensions.filter(isFence)
  if (fences.length !== 1) throw new FST_COLLAB_SCALE_OUT_UNFENCED(fences.length)
  const scaleOut = new ScaleOut(host, config.connection, config.settings, host.instance.instanceId, fences[0],
    (documentName, epoch, reason) => host.depose(documentName, epoch, reason))
  await scaleOut.start()
  return scaleOut
}

function isFence (extension: object): extension is Fence {
  const candidate = extension as { fencing?: unknown, claim?: unknown }
  return candidate.fencing === true && typeof candidate.claim === 'function'
}
