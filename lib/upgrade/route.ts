import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import { kUpgradeHead, kUpgradeHooks, kUpgradeState } from '../symbols.js'
import type { UpgradeState } from './reply-upgrade.js'
import { createUpgradeHookRunner, routeUpgradeHooks } from './upgrade-hooks.js'

type UpgradedErrorHandler = (error: unknown, request: FastifyRequest, state: UpgradeState) => void
type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * Wraps a route handler so that, once the reply is upgraded, what the handler
 * returns is dropped and what it throws goes to the socket (1011) instead of to
 * Fastify, which would only log "reply already sent". Before the upgrade,
 * values and errors pass through untouched: Fastify answers them over HTTP.
 */
function wrapHandler (handler: Handler, onUpgradedError: UpgradedErrorHandler): Handler {
  return function upgradeAwareHandler (request, reply) {
    if (request.raw[kUpgradeHead] === undefined) return handler.call(this, request, reply)
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      const state = reply[kUpgradeState]
      if (state === null) throw error
      onUpgradedError(error, request, state)
      return undefined
    }
    if (!isThenable(result)) return result
    return result.then((value) => {
      if (reply[kUpgradeState] === null) return value
      if (value !== undefined) request.log.debug('The value returned by a handler after reply.upgrade() is ignored')
      return undefined
    }, (error: unknown) => {
      const state = reply[kUpgradeState]
      if (state === null) throw error
      onUpgradedError(error, request, state)
      return undefined
    })
  }
}

/**
 * Builds the onRoute hook. For every GET route (RFC 6455 §4.1: the handshake is
 * a GET), it appends the onUpgrade chain to the route's preValidation hooks, so
 * that it runs after the app's preValidation hooks and before schema validation,
 * and wraps the handler for errors after the upgrade.
 */
export function createOnRoute (onUpgradedError: UpgradedErrorHandler) {
  return function onRoute (this: FastifyInstance, routeOptions: RouteOptions & { onUpgrade?: unknown }): void {
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
    if (!methods.includes('GET')) return
    const runner = createUpgradeHookRunner(this[kUpgradeHooks], routeUpgradeHooks(routeOptions.onUpgrade))
    const preValidation = routeOptions.preValidation
    routeOptions.preValidation = preValidation === undefined
      ? [runner]
      : (Array.isArray(preValidation) ? preValidation : [preValidation]).concat(runner) as RouteOptions['preValidation']
    routeOptions.handler = wrapHandler(routeOptions.handler as Handler, onUpgradedError) as RouteHandlerMethod
  }
}
