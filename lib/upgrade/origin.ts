import type { FastifyRequest } from 'fastify'
import { FST_COLLAB_ORIGIN_FORBIDDEN } from '../errors.js'
import type { AllowedOrigins } from './types.js'

/**
 * The origin a browser sent with its opening handshake: `Origin` (RFC 6455
 * §4.1), or `Sec-WebSocket-Origin` for the version 8 draft that ws still accepts.
 */
function originOf (request: FastifyRequest): string | undefined {
  const { headers } = request
  const origin = headers['sec-websocket-version'] === '8' ? headers['sec-websocket-origin'] : headers.origin
  return typeof origin === 'string' ? origin : undefined
}

/**
 * Refuses a handshake from an origin that `allowedOrigins` does not allow
 * (RFC 6455 §10.2): cross-site WebSocket hijacking. Without an `Origin` the
 * client is not a browser (browsers always send one), so a list lets it
 * through; a function decides for itself.
 * @throws FST_COLLAB_ORIGIN_FORBIDDEN (403)
 */
export function checkOrigin (allowed: AllowedOrigins | null, request: FastifyRequest): void {
  if (allowed === null) return
  const origin = originOf(request)
  const ok = typeof allowed === 'function' ? allowed(origin, request) : origin === undefined || allowed.includes(origin)
  if (!ok) throw new FST_COLLAB_ORIGIN_FORBIDDEN(origin ?? '(none)')
}
