import { EventEmitter } from 'node:events'
import { errorCodes, type FastifyBodyParser, type FastifyError, type FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { CloseCode, closeReason } from '../close-codes.js'
import { FST_COLLAB_INVALID_MESSAGE_JSON } from '../errors.js'
import { kMessages } from '../symbols.js'
import type { MessageRoute, MessageSchemaRoute, MessageValidator } from './types.js'

const { FST_ERR_VALIDATION, FST_ERR_SCH_VALIDATION_BUILD } = errorCodes

/** The JSON parser of the app: Fastify's default, with the app's onProtoPoisoning and onConstructorPoisoning. */
export type JsonParser = FastifyBodyParser<string>

interface MessageSocket extends WebSocket {
  [kMessages]: { route: MessageRoute, request: FastifyRequest, parse: JsonParser }
}

// A message is compiled as a body is: it is the body of a frame, and compilers
// that treat parts differently (TypeBox's converts querystrings, not bodies)
// give it a body's treatment. A compiler may refuse a part it does not know.
const MESSAGE_PART = 'body'

/**
 * Compiles every collected `schema.message`, once the app is ready, with the
 * route's validator compiler: its own `validatorCompiler` option, or its
 * context's (`setValidatorCompiler`, a type provider's, or the one Fastify built
 * from the app's `ajv` options for the context's other schemas), as Fastify
 * compiles `schema.body` (`httpPart: 'body'`). A context with no compiler yet (no schema at all)
 * has it built at the route's first upgrade, by `request.compileValidationSchema`.
 * @throws FST_ERR_SCH_VALIDATION_BUILD (Fastify's) when a schema does not compile.
 */
export function compileMessageSchemas (routes: MessageSchemaRoute[]): void {
  for (const { instance, url, validatorCompiler, messages } of routes) {
    const compile = validatorCompiler ?? instance.validatorCompiler
    if (compile === undefined) continue
    try {
      messages.validate = compile({ schema: messages.schema as never, method: 'GET', url, httpPart: MESSAGE_PART }) as MessageValidator
    } catch (error) {
      throw new FST_ERR_SCH_VALIDATION_BUILD('GET', url, (error as Error).message)
    }
  }
  routes.length = 0
}

/**
 * Compiles a route's `schema.message` at its first upgrade when the app had no
 * validator compiler for it at boot (see compileMessageSchemas).
 */
export function ensureMessageValidator (route: MessageRoute, request: FastifyRequest): void {
  route.validate ??= request.compileValidationSchema(route.schema as never, MESSAGE_PART) as MessageValidator
}

/**
 * Makes the socket's 'message' event carry the parsed, validated message
 * instead of ws's raw frame. A message that is not JSON or fails the schema
 * never reaches the app's listeners: it is logged at info and closes the socket
 * with 1007, unless the route's `onInvalidMessage` handles it.
 */
export function validateMessages (socket: WebSocket, route: MessageRoute, request: FastifyRequest, parse: JsonParser): void {
  const messageSocket = socket as MessageSocket
  messageSocket[kMessages] = { route, request, parse }
  socket.emit = emitValidated
}

function toText (data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString()
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString()
  return data.toString()
}

// The socket's own `emit`, on the sockets of routes with `schema.message` only.
function emitValidated (this: MessageSocket, event: string | symbol, ...args: unknown[]): boolean {
  if (event !== 'message') return EventEmitter.prototype.emit.call(this, event, ...args)
  const { route, request, parse } = this[kMessages]
  let parsed: unknown
  let notJson: FastifyError | null = null
  // Fastify's JSON parser calls back synchronously; JSON text and binary frames alike.
  parse(request, toText(args[0] as RawData), (err, value) => {
    if (err !== null) notJson = new FST_COLLAB_INVALID_MESSAGE_JSON({ cause: err })
    parsed = value
  })
  if (notJson !== null) return onInvalid(this, route, request, notJson)
  const checked = check(route.validate as MessageValidator, parsed)
  if (checked.failure !== null) return fail(this, request, checked.failure)
  if (checked.invalid !== null) return onInvalid(this, route, request, checked.invalid)
  return EventEmitter.prototype.emit.call(this, 'message', checked.value)
}

interface Checked {
  /** The message, possibly replaced by the validator (coercion, a type provider's parsed value). */
  value: unknown
  /** Fastify's FST_ERR_VALIDATION when the message fails the schema. */
  invalid: FastifyError | null
  /** The validator threw, or is async (messages must keep their order): the server's fault. */
  failure: unknown
}

/**
 * Runs a validator with the conventions of Fastify's validateParam: `false` and
 * `.errors` (Ajv, which may replace the root value through `parentData`),
 * `{ error }` or `{ value }` (type providers' compilers).
 */
function check (validate: MessageValidator, value: unknown): Checked {
  const holder = { value }
  let result: unknown
  try {
    result = validate.schemaEnv === undefined ? validate(value) : validate(value, { parentData: holder, parentDataProperty: 'value' })
  } catch (error) {
    return { value, invalid: null, failure: error }
  }
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    return { value, invalid: null, failure: new Error('schema.message needs a synchronous validator: an async one could reorder messages') }
  }
  if (result === false) return { value, invalid: validationError(validate.errors), failure: null }
  if (result !== null && typeof result === 'object') {
    const { error } = result as { error?: unknown }
    if (error !== undefined && error !== null) return { value, invalid: validationError(error), failure: null }
    if ('value' in result) return { value: (result as { value: unknown }).value, invalid: null, failure: null }
  }
  return { value: holder.value, invalid: null, failure: null }
}

/** Fastify's validation error for `message`, formatted as Fastify's default schemaErrorFormatter does. */
function validationError (errors: unknown): FastifyError {
  if (errors instanceof Error) {
    return Object.assign(errors, { code: 'FST_ERR_VALIDATION', statusCode: 400, validationContext: 'message' }) as FastifyError
  }
  const list = Array.isArray(errors) ? errors as Array<{ instancePath?: string, message?: string }> : []
  const text = list.map((e) => `message${e.instancePath ?? ''} ${e.message ?? 'is invalid'}`).join(', ')
  return Object.assign(new FST_ERR_VALIDATION(text), { validation: list, validationContext: 'message' })
}

function onInvalid (socket: MessageSocket, route: MessageRoute, request: FastifyRequest, error: FastifyError): false {
  request.log.info({ err: error }, 'Invalid WebSocket message')
  const handler = route.onInvalidMessage
  if (handler === null) {
    socket.close(CloseCode.INVALID_PAYLOAD, closeReason(error.message))
    return false
  }
  let result: unknown
  try {
    result = handler(error, socket, request)
  } catch (err) {
    return fail(socket, request, err)
  }
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(undefined, (err: unknown) => fail(socket, request, err))
  }
  return false
}

// A validator or an onInvalidMessage handler failed: the server's fault, 1011.
function fail (socket: WebSocket, request: FastifyRequest, err: unknown): false {
  request.log.error({ err }, 'WebSocket message validation failed')
  socket.close(CloseCode.INTERNAL_ERROR, 'Internal Error')
  return false
}
