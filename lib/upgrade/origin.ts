import type { FastifyRequest } from 'fastify'
import { FST_COLLAB_ORIGIN_FORBIDDEN } from '../errors.js'
import type { AllowedOrigins } from './types.js'

/**
 * Refuses a handshake from an origin that `allowedOrigins` does not allow
 * (RFC 6455 §10.2): cross-site WebSocket hijacking. Without an `Origin` the
 * client is not a browser (browsers always send one), so a list lets it
 * through; a function decides for itself.
 * @throws FST_COLLAB_ORIGIN_FORBIDDEN (403)
 */
export function checkOrigin (allowed: AllowedOrigins | null, request: FastifyRequest): void {
  if (allowed === null) return
  // RFC 6455 §4.1: a browser sends the Origin of the page that opens the socket.
  const origin = request.headers.origin
  const ok = typeof allowed === 'function' ? allowed(origin, request) : origin === undefined || allowed.includes(origin)
  if (!ok) throw new FST_COLLAB_ORIGIN_FORBIDDEN(origin ?? '(none)')
}
