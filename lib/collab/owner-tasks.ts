// Operations that only the owner of a document can run (scale-out), offered
// by extensions and run there for a direct connection on another instance:
// the history's `versions.create` and `.restore` need what the owner keeps
// per load (who changed the document since the last version, the load's
// fencing epoch). The direct connection's session carries the call to the
// owner and its outcome back (lib/scale-out/ sees bytes only); the outcome,
// an error included, is v8-serialised here.

import { deserialize, serialize } from 'node:v8'
import * as errors from '../errors.js'
import { FST_COLLAB_OWNER_FAILED } from '../errors.js'
import type { Collab } from './types.js'

/**
 * An operation an extension runs on a document's owner: `args` and the result must survive `v8.serialize`.
 * @rejects with whatever failed; the instance that asked gets it back (see {@link decodeOutcome}).
 */
export type OwnerTask = (instance: Collab, documentName: string, args: unknown) => Promise<unknown>

/** What an extension offers to run on the owner, by name (an extension's `ownerTasks`). */
export type OwnerTasks = Readonly<Record<string, OwnerTask>>

type Outcome = { ok: true, value: unknown } | { ok: false, error: Record<string, unknown> }

/** The owner tasks every extension offers (its `ownerTasks` property), by name; a later one wins a name. */
export function ownerTasksOf (extensions: readonly object[]): Map<string, OwnerTask> {
  const tasks = new Map<string, OwnerTask>()
  for (const extension of extensions) {
    const offered = (extension as { ownerTasks?: unknown }).ownerTasks
    if (offered === null || typeof offered !== 'object') continue
    for (const [name, task] of Object.entries(offered)) if (typeof task === 'function') tasks.set(name, task as OwnerTask)
  }
  return tasks
}

/**
 * Runs the task `name` here, with the arguments another instance (or a direct connection here) sent, and
 * encodes its outcome. Never rejects: a failure is the outcome.
 */
export async function runOwnerTask (tasks: ReadonlyMap<string, OwnerTask>, instance: Collab, documentName: string, name: string, args: Uint8Array): Promise<Uint8Array> {
  let outcome: Outcome
  try {
    const task = tasks.get(name)
    if (task === undefined) throw new FST_COLLAB_OWNER_FAILED(documentName, `no extension here runs "${name}"`)
    outcome = { ok: true, value: await task(instance, documentName, deserialize(args)) }
  } catch (error) {
    outcome = { ok: false, error: errorFields(error) }
  }
  try {
    return serialize(outcome)
  } catch (cause) {
    // A result or an error field that cannot cross: say so rather than lose the answer.
    return serialize({ ok: false, error: errorFields(new FST_COLLAB_OWNER_FAILED(documentName, `its answer cannot cross instances: ${String(cause)}`)) })
  }
}

// An error's own fields (code, statusCode, message, and those fencedError() adds), as data.
function errorFields (error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) }
  const { stack: _stack, cause: _cause, ...fields } = error as Error & Record<string, unknown>
  return { ...fields, message: error.message }
}

/**
 * The value of a task's encoded outcome.
 * @throws the owner's error: one of this package's rebuilt with its class, code and fields; any other
 *   (an app hook's, a driver's) as FST_COLLAB_OWNER_FAILED with its message.
 */
export function decodeOutcome (documentName: string, encoded: Uint8Array): unknown {
  const outcome = deserialize(encoded) as Outcome
  if (outcome.ok) return outcome.value
  const { code, message } = outcome.error
  const Known = typeof code === 'string' && code.startsWith('FST_COLLAB_') ? (errors as Record<string, unknown>)[code] : undefined
  if (typeof Known !== 'function') throw new FST_COLLAB_OWNER_FAILED(documentName, String(message))
  throw Object.assign(new (Known as new () => Error)(), outcome.error)
}
