import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction, type RouteOptions } from 'fastify'
import { FST_COLLAB_HOOK_AFTER_READY, FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER, FST_COLLAB_HOOK_INVALID_HANDLER } from '../errors.js'
import { kUpgradeContext } from '../symbols.js'
import { upgradeOf } from './request.js'
import type { ContextInstance, UpgradeContext, RunnableUpgradeHook } from './types.js'

/**
 * Refuses what Fastify's `addHook` refuses: a non-function, and an async
 * function that also takes `done`, which would advance the chain twice.
 * @throws FST_COLLAB_HOOK_INVALID_HANDLER, FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER
 */
function checkHook (hook: unknown): asserts hook is RunnableUpgradeHook {
  if (typeof hook !== 'function') throw new FST_COLLAB_HOOK_INVALID_HANDLER('onUpgrade', Object.prototype.toString.call(hook))
  if (hook.constructor.name === 'AsyncFunction' && hook.length === 3) throw new FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER()
}

/** A new context's state: none of its own hooks yet, and no routes. */
export function createUpgradeContext (): UpgradeContext {
  return { hooks: [], bareRoutes: [] }
}

/**
 * onRegister hook: a child context starts with a copy of its parent's upgrade
 * hooks, so that what it adds stays encapsulated in it.
 */
export function copyUpgradeContext (instance: FastifyInstance): void {
  const child = instance as ContextInstance
  child[kUpgradeContext] = { hooks: child[kUpgradeContext].hooks.slice(), bareRoutes: [] }
}

/**
 * Builds `fastify.addUpgradeHook(hook)`: adds an `onUpgrade` hook to this
 * encapsulation context. Like `addHook`, it applies to the routes of this
 * context, those declared before it included, and of its child plugins
 * registered afterwards, never to the parent's; it is refused once the app is ready.
 * @throws FST_COLLAB_HOOK_AFTER_READY after `ready()`; FST_COLLAB_HOOK_INVALID_HANDLER or
 * FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER when `hook` is not a valid hook.
 */
export function createAddUpgradeHook (isReady: () => boolean) {
  return function addUpgradeHook (this: FastifyInstance, hook: RunnableUpgradeHook): FastifyInstance {
    if (isReady()) throw new FST_COLLAB_HOOK_AFTER_READY()
    checkHook(hook)
    const context = (this as ContextInstance)[kUpgradeContext]
    context.hooks.push(hook)
    // Fastify builds a route's hook list from its options when the app becomes
    // ready (route.js, 'preReady'), so a route declared before this hook can
    // still be given its runner, as `addHook` still applies to it.
    for (const routeOptions of context.bareRoutes) addUpgradeRunner(routeOptions, context.hooks, [])
    context.bareRoutes.length = 0
    return this
  }
}

/**
 * Normalises the `onUpgrade` route option: a function, an array of them, or nothing.
 * @throws FST_COLLAB_HOOK_INVALID_HANDLER, FST_COLLAB_HOOK_INVALID_ASYNC_HANDLER
 */
export function routeUpgradeHooks (option: unknown): RunnableUpgradeHook[] {
  if (option === undefined) return []
  const hooks: unknown[] = Array.isArray(option) ? option : [option]
  for (const hook of hooks) checkHook(hook)
  return hooks as RunnableUpgradeHook[]
}

/**
 * Appends the onUpgrade runner to a route's preValidation hooks: it runs after
 * the app's preValidation hooks and before schema validation. Only routes that
 * an onUpgrade hook applies to get one; plain requests to them pay one
 * preValidation hook that returns at once.
 */
export function addUpgradeRunner (routeOptions: RouteOptions, contextHooks: RunnableUpgradeHook[], routeHooks: RunnableUpgradeHook[]): void {
  const runner = createUpgradeHookRunner(contextHooks, routeHooks)
  const preValidation = routeOptions.preValidation
  routeOptions.preValidation = preValidation === undefined
    ? [runner]
    : (Array.isArray(preValidation) ? preValidation : [preValidation]).concat(runner) as RouteOptions['preValidation']
}

/**
 * The preValidation hook that runs a route's onUpgrade chain: the context's
 * hooks, then the route's own, only for upgrade requests. Hooks added to the
 * context after the route was declared still count, as with `addHook`: the
 * chain is fixed at the first upgrade request, once the app is ready.
 */
function createUpgradeHookRunner (contextHooks: RunnableUpgradeHook[], routeHooks: RunnableUpgradeHook[]) {
  let hooks: RunnableUpgradeHook[] | null = null
  return function runUpgradeHooks (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (upgradeOf(request.raw) === undefined) {
      done()
      return
    }
    hooks ??= contextHooks.concat(routeHooks)
    runHooks(hooks, this, request, reply, done)
  }
}

// Fastify's hook runner answers a rejection without a reason with this error.
const { FST_ERR_SEND_UNDEFINED_ERR } = errorCodes

// Index-based, as Fastify's own hook runner: no array copies or closures per
// hook on this path, only the three below per request. Like Fastify's, it
// passes on whatever a hook throws or rejects with, an Error or not
// (`throw { statusCode: 401 }` is answered 401 by Fastify's error handler).
function runHooks (
  hooks: RunnableUpgradeHook[],
  instance: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction
): void {
  let i = 0

  function next (err?: unknown): void {
    // A hook that answered ends the chain; Fastify sees reply.sent and stops too.
    if (err != null || i === hooks.length || reply.sent) {
      done(err as Error | undefined)
      return
    }
    let result: unknown
    try {
      result = hooks[i++].call(instance, request, reply, next)
    } catch (error) {
      fail(error)
      return
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(onResolve, fail)
    }
  }

  function onResolve (): void {
    next()
  }

  function fail (err: unknown): void {
    // As Fastify's handleReject: a rejection without a reason (or a falsy one).
    done((err || new FST_ERR_SEND_UNDEFINED_ERR()) as Error)
  }

  next()
}
