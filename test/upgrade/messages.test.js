// schema.message (issue 10 §3): messages parsed and validated with the app's
// validator compiler; invalid ones close the socket with 1007 unless the
// route's onInvalidMessage handles them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyCollab from 'fastify-collab'
import { Type } from '@fastify/type-provider-typebox'
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { WebSocket } from 'ws'
import { captureLog } from '../helpers/log.js'
import { when, once } from '../helpers/wait.js'
import { buildApp, connect, listen, rawUpgrade } from '../helpers/upgrade.js'

const chat = {
  type: 'object',
  required: ['text'],
  additionalProperties: false,
  properties: { text: { type: 'string', maxLength: 20 }, room: { type: 'string', default: 'lobby' } }
}

/** A route whose app sends back, as JSON, every message it gets. */
function validatedEcho (app, path, routeOptions) {
  app.get(path, routeOptions, async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (message) => socket.send(JSON.stringify({ got: message })))
  })
}

async function nextJson (ws) {
  const [data] = await once(ws, 'message')
  return JSON.parse(data.toString())
}

test('a valid message reaches the app parsed, with the schema\'s defaults and coercions; text and binary frames alike', async (t) => {
  const app = await buildApp(t)
  validatedEcho(app, '/chat', { schema: { message: chat } })
  const ws = await connect(`${await listen(app)}/chat`)
  ws.send(JSON.stringify({ text: 'hello' }))
  assert.deepEqual(await nextJson(ws), { got: { text: 'hello', room: 'lobby' } })
  ws.send(JSON.stringify({ text: 42 }))
  assert.deepEqual(await nextJson(ws), { got: { text: '42', room: 'lobby' } })
  ws.send(Buffer.from(JSON.stringify({ text: 'binary', room: 'b' })), { binary: true })
  assert.deepEqual(await nextJson(ws), { got: { text: 'binary', room: 'b' } })
  ws.close()
})

test('an invalid message closes the socket with 1007 and Fastify\'s validation message; the app never sees it; logged at info with the request id', async (t) => {
  const { lines, logger } = captureLog()
  const app = await buildApp(t, { fastify: { logger } })
  const seen = []
  app.get('/chat', { schema: { message: chat } }, async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (message) => seen.push(message))
  })
  const url = await listen(app)
  const ws = await connect(`${url}/chat`)
  // Fastify's Ajv coerces scalars (coerceTypes: 'array'), as for a body: an object is no string.
  ws.send(JSON.stringify({ text: { nested: true } }))
  const [code, reason] = await once(ws, 'close')
  assert.equal(code, 1007)
  assert.equal(reason.toString(), 'message/text must be string')
  assert.deepEqual(seen, [])
  const [line] = lines.filter((entry) => entry.msg === 'Invalid WebSocket message')
  assert.equal(line.level, 30)
  assert.equal(line.err.code, 'FST_ERR_VALIDATION')
  assert.equal(typeof line.reqId, 'string')

  const notJson = await connect(`${url}/chat`)
  notJson.send('{"text": "unfinished')
  const [notJsonCode, notJsonReason] = await once(notJson, 'close')
  assert.equal(notJsonCode, 1007)
  assert.equal(notJsonReason.toString(), 'The message is not valid JSON')
  assert.equal(lines.filter((entry) => entry.err?.code === 'FST_COLLAB_INVALID_MESSAGE_JSON').length, 1)

  // Fastify's JSON parser refuses prototype poisoning (onProtoPoisoning: 'error').
  const poisoned = await connect(`${url}/chat`)
  poisoned.send('{"text": "hi", "__proto__": { "admin": true }}')
  assert.equal((await once(poisoned, 'close'))[0], 1007)
  assert.deepEqual(seen, [])
})

test('the close reason is cut to RFC 6455\'s 123 bytes, on a UTF-8 character boundary', async (t) => {
  const app = await buildApp(t)
  // Property names that make Fastify's message "message/<name> must be string" long.
  const names = { multibyte: 'é'.repeat(100), at: 'k'.repeat(100), past: 'k'.repeat(101) }
  for (const [route, name] of Object.entries(names)) {
    validatedEcho(app, `/${route}`, { schema: { message: { type: 'object', properties: { [name]: { type: 'string' } } } } })
  }
  const url = await listen(app)
  async function reasonFor (route) {
    const ws = await connect(`${url}/${route}`)
    ws.send(JSON.stringify({ [names[route]]: {} }))
    const [code, reason] = await once(ws, 'close')
    assert.equal(code, 1007)
    return reason
  }
  // "message/" is 8 bytes and each "é" 2: the 58th would end at byte 124, one past.
  const multibyte = await reasonFor('multibyte')
  assert.equal(multibyte.length, 122)
  assert.equal(multibyte.toString(), `message/${'é'.repeat(57)}`)
  // ASCII: 8 + 100 + 15 = 123 bytes, kept whole; one more and the last byte goes.
  assert.equal((await reasonFor('at')).toString(), `message/${names.at} must be string`)
  const past = await reasonFor('past')
  assert.equal(past.length, 123)
  assert.equal(past.toString(), `message/${names.past} must be strin`)
})

test('onInvalidMessage handles an invalid message instead: the socket stays open; a throw or a rejection closes it with 1011', async (t) => {
  const { lines, logger } = captureLog()
  const app = await buildApp(t, { fastify: { logger } })
  const handled = []
  validatedEcho(app, '/lenient', {
    schema: { message: chat },
    onInvalidMessage (error, socket, request) {
      handled.push([error.code, request.url])
      socket.send(JSON.stringify({ error: error.message }))
    }
  })
  validatedEcho(app, '/throws', { schema: { message: chat }, onInvalidMessage () { throw new Error('handler broke') } })
  validatedEcho(app, '/rejects', { schema: { message: chat }, async onInvalidMessage () { throw new Error('handler rejected') } })
  const url = await listen(app)
  const ws = await connect(`${url}/lenient`)
  ws.send('not json')
  assert.deepEqual(await nextJson(ws), { error: 'The message is not valid JSON' })
  ws.send(JSON.stringify({ text: 'x'.repeat(21) }))
  assert.deepEqual(await nextJson(ws), { error: 'message/text must NOT have more than 20 characters' })
  ws.send(JSON.stringify({ text: 'still here' }))
  assert.deepEqual(await nextJson(ws), { got: { text: 'still here', room: 'lobby' } })
  assert.deepEqual(handled, [['FST_COLLAB_INVALID_MESSAGE_JSON', '/lenient'], ['FST_ERR_VALIDATION', '/lenient']])
  ws.close()

  for (const path of ['/throws', '/rejects']) {
    const failing = await connect(`${url}${path}`)
    failing.send('{}')
    assert.equal((await once(failing, 'close'))[0], 1011, path)
  }
  assert.deepEqual(lines.filter((line) => line.level === 50).map((line) => line.err.message), ['handler broke', 'handler rejected'])
})

test('the app\'s validator compiler applies: its ajv plugins, its formats, setValidatorCompiler, a route\'s own validatorCompiler', async (t) => {
  const isEven = (ajv) => ajv.addKeyword({ keyword: 'isEven', type: 'number', validate: (schema, data) => data % 2 === 0 })
  const app = await buildApp(t, { fastify: { ajv: { plugins: [isEven] } } })
  validatedEcho(app, '/even', { schema: { message: { type: 'object', properties: { n: { type: 'number', isEven: true }, email: { type: 'string', format: 'email' } } } } })
  const calls = []
  validatedEcho(app, '/own', {
    schema: { message: { type: 'object' } },
    validatorCompiler ({ schema, httpPart, url }) {
      calls.push([httpPart, url])
      return (value) => value.ok === true ? { value: { ok: 'replaced by the compiler' } } : { error: new Error('not ok') }
    }
  })
  await app.ready()
  // Compiled at boot, once, as a body.
  assert.deepEqual(calls, [['body', '/own']])
  const url = await listen(app)
  const even = await connect(`${url}/even`)
  even.send(JSON.stringify({ n: 4, email: 'ada@example.com' }))
  assert.deepEqual(await nextJson(even), { got: { n: 4, email: 'ada@example.com' } })
  even.send(JSON.stringify({ n: 3 }))
  assert.equal((await once(even, 'close'))[1].toString(), 'message/n must pass "isEven" keyword validation')
  const email = await connect(`${url}/even`)
  email.send(JSON.stringify({ email: 'nope' }))
  assert.equal((await once(email, 'close'))[1].toString(), 'message/email must match format "email"')

  const own = await connect(`${url}/own`)
  own.send(JSON.stringify({ ok: true }))
  assert.deepEqual(await nextJson(own), { got: { ok: 'replaced by the compiler' } })
  own.send('{}')
  assert.deepEqual(await once(own, 'close').then(([code, reason]) => [code, reason.toString()]), [1007, 'not ok'])
  assert.equal(calls.length, 1)

  const custom = Fastify()
  t.after(() => custom.close())
  await custom.register(fastifyCollab)
  custom.setValidatorCompiler(({ schema }) => (value) => Number.isInteger(value) === schema.integer)
  validatedEcho(custom, '/integer', { schema: { message: { integer: true } } })
  const ws = await connect(`${await listen(custom)}/integer`)
  ws.send('42')
  assert.deepEqual(await nextJson(ws), { got: 42 })
  ws.send('"42"')
  assert.equal((await once(ws, 'close'))[0], 1007)
})

test('TypeBox and Zod schemas, through their type providers\' validator compilers', async (t) => {
  const typebox = await buildApp(t)
  validatedEcho(typebox, '/typebox', { schema: { message: Type.Object({ text: Type.String({ minLength: 1 }) }) } })
  const tb = await connect(`${await listen(typebox)}/typebox`)
  tb.send(JSON.stringify({ text: 'boxed' }))
  assert.deepEqual(await nextJson(tb), { got: { text: 'boxed' } })
  tb.send(JSON.stringify({ text: '' }))
  assert.equal((await once(tb, 'close'))[0], 1007)

  const zod = Fastify()
  t.after(() => zod.close())
  await zod.register(fastifyCollab)
  zod.setValidatorCompiler(zodValidatorCompiler)
  validatedEcho(zod, '/zod', { schema: { message: z.object({ n: z.coerce.number().int() }) } })
  const zs = await connect(`${await listen(zod)}/zod`)
  zs.send(JSON.stringify({ n: '7' }))
  assert.deepEqual(await nextJson(zs), { got: { n: 7 } })
  zs.send(JSON.stringify({ n: 'seven' }))
  const [code, reason] = await once(zs, 'close')
  assert.equal(code, 1007)
  assert.match(reason.toString(), /^message\/n /)
})

test('a schema.message that does not compile fails ready() with Fastify\'s FST_ERR_SCH_VALIDATION_BUILD', async () => {
  const app = Fastify()
  await app.register(fastifyCollab)
  app.get('/params', { schema: { params: { type: 'object' } } }, async () => ({}))
  validatedEcho(app, '/bad', { schema: { message: { type: 'no such type' } } })
  await assert.rejects(app.ready(), { code: 'FST_ERR_SCH_VALIDATION_BUILD' })
  await app.close()
})

test('without any compiler at boot (no other schema), schema.message is compiled at the first upgrade with Fastify\'s default', async (t) => {
  const app = await buildApp(t)
  validatedEcho(app, '/chat', { schema: { message: chat } })
  validatedEcho(app, '/bad', { schema: { message: { type: 'no such type' } } })
  await app.ready()
  assert.equal(app.validatorCompiler, undefined)
  const url = await listen(app)
  const ws = await connect(`${url}/chat`)
  ws.send(JSON.stringify({ text: 'late but fine' }))
  assert.deepEqual(await nextJson(ws), { got: { text: 'late but fine', room: 'lobby' } })
  ws.close()
  // A schema that does not compile: the handshake is answered 500, no socket.
  const bad = await rawUpgrade(url, '/bad')
  assert.equal(bad.statusCode, 500)
})

test('routes without schema.message get ws\'s raw frames', async (t) => {
  const app = await buildApp(t)
  app.get('/raw', async (request, reply) => {
    const socket = await reply.upgrade()
    socket.on('message', (data, isBinary) => socket.send(JSON.stringify({ isBuffer: Buffer.isBuffer(data), isBinary })))
  })
  const ws = new WebSocket(`${await listen(app)}/raw`)
  await once(ws, 'open')
  ws.send('not json at all')
  assert.deepEqual(await nextJson(ws), { isBuffer: true, isBinary: false })
  ws.close()
  await when(ws, 'close')
})

test('outgoing messages: reply.compileSerializationSchema gives the app\'s serializer (fast-json-stringify) after the upgrade', async (t) => {
  const app = await buildApp(t)
  const out = { type: 'object', properties: { text: { type: 'string' }, at: { type: 'integer' } } }
  app.get('/chat', { schema: { message: chat } }, async (request, reply) => {
    const socket = await reply.upgrade()
    const serialize = reply.compileSerializationSchema(out)
    socket.on('message', (message) => socket.send(serialize({ text: message.text, at: 1, secret: 'not in the schema' })))
  })
  const ws = await connect(`${await listen(app)}/chat`)
  ws.send(JSON.stringify({ text: 'hi' }))
  assert.equal((await once(ws, 'message'))[0].toString(), '{"text":"hi","at":1}')
  ws.close()
})
