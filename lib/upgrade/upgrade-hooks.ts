import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { FST_COLLAB_INVALID_OPTION } from '../errors.js'
import { kUpgradeHead, kUpgradeHooks } from '../symbols.js'

/**
 * An `onUpgrade` hook, with the signature of a preValidation hook: either
 * `async (request, reply) => {}` or `(request, reply, done) => {}`. `this` is the
 * route's Fastify instance. It may answer with `reply.code(...).send(...)`, which
 * stops the chain, or throw / call `done(error)`, which goes to the error handler.
 */
export type UpgradeHookFunction = (
  this: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction
) => unknown

declare module 'fastify' {
  interface FastifyInstance {
    [kUpgradeHooks]: UpgradeHookFunction[]
  }
}

/**
 * Refuses what Fastify's `addHook` refuses: a non-function, and an async
 * function that also takes `done`, which would advance the chain twice.
 * @throws FST_COLLAB_INVALID_OPTION
 */
function checkHook (hook: unknown, where: string): asserts hook is UpgradeHookFunction {
  if (typeof hook !== 'function') throw new FST_COLLAB_INVALID_OPTION(where, 'a hook must be a function')
  if (hook.constructor.name === 'AsyncFunction' && hook.length === 3) {
    throw new FST_COLLAB_INVALID_OPTION(where, 'an async hook must not take a `done` callback')
  }
}

/**
 * Builds `fastify.addUpgradeHook(hook)`: adds an `onUpgrade` hook to this
 * encapsulation context. Like `addHook`, it applies to the routes of this
 * context and of its child plugins registered afterwards, never to the parent's,
 * and it is refused once the app is ready.
 * @throws FST_COLLAB_INVALID_OPTION when `hook` is not a valid hook, or after `ready()`.
 */
export function createAddUpgradeHook (isReady: () => boolean) {
  return function addUpgradeHook (this: FastifyInstance, hook: UpgradeHookFunction): FastifyInstance {
    if (isReady()) throw new FST_COLLAB_INVALID_OPTION('addUpgradeHook', 'hooks cannot be added once the app is ready')
    checkHook(hook, 'addUpgradeHook')
    this[kUpgradeHooks].push(hook)
    return this
  }
}

/**
 * onRegister hook: a child context starts with a copy of its parent's upgrade
 * hooks, so that what it adds stays encapsulated in it.
 */
export function copyUpgradeHooks (instance: FastifyInstance): void {
  instance[kUpgradeHooks] = instance[kUpgradeHooks].slice()
}

/** Normalises the `onUpgrade` route option: a function, an array of them, or nothing. */
export function routeUpgradeHooks (option: unknown): UpgradeHookFunction[] {
  if (option === undefined) return []
  const hooks: unknown[] = Array.isArray(option) ? option : [option]
  for (const hook of hooks) checkHook(hook, 'onUpgrade')
  return hooks as UpgradeHookFunction[]
}

/**
 * Builds the preValidation hook that runs a route's onUpgrade chain: the
 * context's hooks, then the route's own, only for upgrade requests. Hooks added
 * to the context after the route was declared still count, as with `addHook`:
 * the chain is fixed at the first upgrade request, once the app is ready.
 */
export function createUpgradeHookRunner (contextHooks: UpgradeHookFunction[], routeHooks: UpgradeHookFunction[]) {
  let hooks: UpgradeHookFunction[] | null = null
  return function runUpgradeHooks (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (request.raw[kUpgradeHead] === undefined) {
      done()
      return
    }
    hooks ??= contextHooks.concat(routeHooks)
    runHooks(hooks, this, request, reply, done)
  }
}

// Index-based, as Fastify's own hook runner: no array copies or closures per
// hook on this path, only the three below per request.
function runHooks (
  hooks: UpgradeHookFunction[],
  instance: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction
): void {
  let i = 0

  function next (err?: Error | null): void {
    // A hook that answered ends the chain; Fastify sees reply.sent and stops too.
    if (err != null || i === hooks.length || reply.sent) {
      done(err ?? undefined)
      return
    }
    let result: unknown
    try {
      result = hooks[i++].call(instance, request, reply, next)
    } catch (error) {
      done(error as Error)
      return
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(onResolve, onReject)
    }
  }

  function onResolve (): void {
    next()
  }

  function onReject (err: unknown): void {
    done(err instanceof Error ? err : new Error(String(err)))
  }

  next()
}
