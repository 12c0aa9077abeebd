// What of a connection crosses instances with it: its hook context and a
// snapshot of the upgraded request. Both go through v8.serialize (the
// structured clone algorithm), so plain data, Date, Map, Set and typed arrays
// survive, and a function or a symbol is refused at connect.

import { deserialize, serialize } from 'node:v8'
import type { FastifyBaseLogger } from 'fastify'
import type { CollabRequest, HookContext, RemoteRequest } from '../collab/types.js'

type RequestData = Omit<RemoteRequest, 'remote' | 'log'>

/**
 * Serialises a connection's context and request for the owner: a client's upgraded request, or the
 * {@link RemoteRequest} a direct connection made for itself (`direct: true`).
 * @throws what v8.serialize throws (DataCloneError) for a value that cannot cross.
 */
export function serializeConnection (instanceId: string, request: CollabRequest, context: HookContext): Uint8Array {
  const data: RequestData = {
    instanceId,
    direct: 'remote' in request && request.direct,
    id: request.id,
    method: request.method,
    url: request.url,
    hostname: request.hostname,
    ip: request.ip,
    headers: request.headers,
    query: request.query,
    params: request.params
  }
  return serialize({ request: data, context })
}

/** The context and request snapshot of a connection, as the owner rebuilds them. */
export function deserializeConnection (state: Uint8Array, log: FastifyBaseLogger): { request: RemoteRequest, context: HookContext } {
  const { request, context } = deserialize(state) as { request: RequestData, context: HookContext }
  let child: FastifyBaseLogger | null = null
  const remote: RemoteRequest = {
    ...request,
    remote: true,
    // Made on first use: most sessions never log.
    get log () {
      child ??= log.child({ reqId: request.id, instanceId: request.instanceId })
      return child
    }
  }
  return { request: remote, context }
}
