import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import { FST_COLLAB_INVALID_OPTION } from '../errors.js'
import { kRouteUpgrade, kUpgradeContext } from '../symbols.js'
import { upgradeOf } from './request.js'
import { checkAllowedOrigins } from './options.js'
import type { AllowedOrigins, ContextInstance, InvalidMessageHandler, MessageRoute, MessageSchemaRoute, RouteUpgrade, RouteUpgradeConfig, UpgradeRequest } from './types.js'
import { addUpgradeRunner, routeUpgradeHooks } from './upgrade-hooks.js'

type UpgradedErrorHandler = (error: unknown, request: FastifyRequest, upgrade: UpgradeRequest) => void
type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown

/** The route options this plugin reads, beside Fastify's own. */
export type UpgradeRouteOptions = RouteOptions & {
  onUpgrade?: unknown
  allowedOrigins?: unknown
  onInvalidMessage?: unknown
  schema?: RouteOptions['schema'] & { message?: unknown }
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * Wraps a route handler so that, once the reply is upgraded, what the handler
 * returns is dropped and what it throws goes to the socket (1011) instead of to
 * Fastify, which would only log "reply already sent". Before the upgrade,
 * values and errors pass through untouched: Fastify answers them over HTTP. A
 * plain request costs one call and one property read; an upgrade request also
 * learns its route's settings here, for reply.upgrade().
 */
function wrapHandler (handler: Handler, route: RouteUpgrade, onUpgradedError: UpgradedErrorHandler): Handler {
  return function upgradeAwareHandler (request, reply) {
    const upgrade = upgradeOf(request.raw)
    if (upgrade === undefined) return handler.call(this, request, reply)
    upgrade.route = route
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      if (upgrade.promise === null) throw error
      onUpgradedError(error, request, upgrade)
      return undefined
    }
    if (!isThenable(result)) return result
    return result.then((value) => {
      if (upgrade.promise === null) return value
      if (value !== undefined) request.log.debug('The value returned by a handler after reply.upgrade() is ignored')
      return undefined
    }, (error: unknown) => {
      if (upgrade.promise === null) throw error
      onUpgradedError(error, request, upgrade)
      return undefined
    })
  }
}

/** The route's `schema.message` and `onInvalidMessage`, or null when it has no message schema. */
function messageRoute (routeOptions: UpgradeRouteOptions): MessageRoute | null {
  const { onInvalidMessage } = routeOptions
  if (onInvalidMessage !== undefined && typeof onInvalidMessage !== 'function') {
    throw new FST_COLLAB_INVALID_OPTION('onInvalidMessage', 'must be a function (error, socket, request)')
  }
  const schema = routeOptions.schema?.message
  if (schema === undefined) return null
  return { schema, validate: null, onInvalidMessage: (onInvalidMessage as InvalidMessageHandler | undefined) ?? null }
}

/**
 * Builds the onRoute hook. A GET route (RFC 6455 §4.1: the handshake is a GET)
 * gets, for upgrade requests only:
 * - the onUpgrade runner in its preValidation hooks, if an onUpgrade hook
 *   applies to it (its own, or its context's, even one added later);
 * - its upgrade settings (allowedOrigins, schema.message) in its `config`,
 *   where reply.upgrade() reads them;
 * - a handler wrapper for errors after the upgrade.
 * A plain request to it pays the wrapper's one call, and nothing else unless
 * onUpgrade hooks apply to the route.
 *
 * @param allowedOrigins - the plugin's option, for routes without their own.
 * @param messageRoutes - collects the routes whose `schema.message` is compiled once the app is ready.
 * @throws FST_COLLAB_HOOK_INVALID_HANDLER, FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER, FST_COLLAB_INVALID_OPTION
 * for an invalid `onUpgrade`, `allowedOrigins` or `onInvalidMessage` route option.
 */
export function createOnRoute (allowedOrigins: AllowedOrigins | null, onUpgradedError: UpgradedErrorHandler, messageRoutes: MessageSchemaRoute[]) {
  return function onRoute (this: FastifyInstance, routeOptions: UpgradeRouteOptions): void {
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
    if (!methods.includes('GET')) return
    const context = (this as ContextInstance)[kUpgradeContext]
    const routeHooks = routeUpgradeHooks(routeOptions.onUpgrade)
    if (routeHooks.length > 0 || context.hooks.length > 0) addUpgradeRunner(routeOptions, context.hooks, routeHooks)
    else context.bareRoutes.push(routeOptions)

    if (routeOptions.allowedOrigins !== undefined) checkAllowedOrigins('allowedOrigins', routeOptions.allowedOrigins)
    const messages = messageRoute(routeOptions)
    const route: RouteUpgrade = {
      allowedOrigins: (routeOptions.allowedOrigins as AllowedOrigins | undefined) ?? allowedOrigins,
      messages
    }
    if (messages !== null) {
      messageRoutes.push({ instance: this, url: routeOptions.url, validatorCompiler: routeOptions.validatorCompiler, messages })
    }
    // A copy: a config object may be shared by several routes.
    const upgradeConfig: RouteUpgradeConfig = { [kRouteUpgrade]: route }
    routeOptions.config = Object.assign(upgradeConfig, routeOptions.config)
    routeOptions.handler = wrapHandler(routeOptions.handler as Handler, route, onUpgradedError) as RouteHandlerMethod
  }
}
