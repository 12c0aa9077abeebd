// REST routes over `fastify.collab.versions` (the plugin's `history` option): list a document's versions,
// read one with its diff against the current text, make one, restore one. The demo registers them under
// `/api/documents/:document/versions`; an app can copy this file and register it the same way.
//
// Every error is an @fastify/error with its own code and HTTP status, so Fastify's default error handler
// answers `{ statusCode, code, error, message }` with the right status and nothing here maps codes by hand:
// a version the document does not have (never made, or thinned) is FST_COLLAB_HISTORY_NOT_FOUND, 404; a
// request the schemas refuse is FST_ERR_VALIDATION, 400; FST_COLLAB_STORE_BACKLOG (the store is behind) and
// FST_COLLAB_CLOSED (the server is stopping) are 503; with scale-out, every route works on every instance
// (the owner runs create and restore for the others); a request `mayWrite` refuses is the one error of this
// file, DEMO_VERSIONS_FORBIDDEN, 403.
import createError from '@fastify/error'
import { FST_COLLAB_HISTORY_NOT_FOUND } from 'fastify-collab'

/** A POST that `mayWrite` refused (the argument: the document's name). */
export const DEMO_VERSIONS_FORBIDDEN = createError('DEMO_VERSIONS_FORBIDDEN', 'Not allowed to change the versions of document "%s"', 403)

const versionId = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER }

const versionInfo = {
  type: 'object',
  properties: {
    id: versionId,
    /** When its state was taken (ISO 8601, UTC). */
    time: { type: 'string', format: 'date-time' },
    label: { type: ['string', 'null'] },
    /** Who changed the document since the version before it (the history's `author` of each change's context). */
    authors: { type: 'array', items: { type: 'string' } },
    /** `'interval'` and `'disconnect'` are automatic, `'manual'` made by POST, `'restore'` the state a restore replaced. */
    reason: { type: 'string', enum: ['interval', 'disconnect', 'manual', 'restore'] },
    /** Bytes of its Yjs state. */
    size: { type: 'integer' }
  },
  required: ['id', 'time', 'label', 'authors', 'reason', 'size']
}

const textDiff = {
  type: 'object',
  properties: {
    changes: {
      type: 'array',
      items: {
        type: 'object',
        properties: { type: { type: 'string', enum: ['equal', 'insert', 'delete'] }, text: { type: 'string' } },
        required: ['type', 'text']
      }
    },
    inserted: { type: 'integer' },
    deleted: { type: 'integer' },
    granularity: { type: 'string', enum: ['char', 'line', 'whole'] }
  },
  required: ['changes', 'inserted', 'deleted', 'granularity']
}

const errorReply = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } }
}
const errors = { '4xx': errorReply, '5xx': errorReply }

/** A version as the routes answer it: the store's `VersionInfo` with its time as ISO 8601. */
function infoOf ({ id, createdAt, label, authors, reason, size }) {
  return { id, time: new Date(createdAt).toISOString(), label, authors, reason, size }
}

/**
 * The versions routes, as a Fastify plugin to register with a prefix that holds `:document`
 * (`{ prefix: '/api/documents/:document/versions' }`). It needs `fastify.collab.versions`: register it after
 * fastify-collab with the `history` option.
 *
 * - `GET /?limit&before`: `{ versions: Version[], next: number | null }`, newest first; `limit` 1–100 (default 20),
 *   `before` a version id (only older ones); `next` is the `before` of the following page, `null` when no older version exists.
 *   A `Version` is `{ id, time, label, authors, reason, size }` (`time` ISO 8601, `size` in bytes).
 * - `GET /:id`: the `Version` with `text` (its `textField` text) and `diff` (`{ changes: [{ type, text }],
 *   inserted, deleted, granularity }`: from it to the current text; `insert` runs were added since, `delete`
 *   runs removed since). 404 when the document has no such version.
 * - `POST /` with an optional JSON body `{ label? }` (1 to 1,000 characters): makes a version now; 201 with the
 *   `Version`.
 * - `POST /:id/restore` with an optional JSON body `{ user? }` (who restores, 1 to 32 characters, counted among
 *   the next version's authors):
 *   the document's content becomes the version's, for every client at once; 200 with `{ restored: Version,
 *   saved: Version }`, `saved` being the state the restore replaced (restore it to undo). 404 as for GET.
 *
 * @param {import('fastify').FastifyInstance} fastify
 * @param {object} options
 * @param {string} options.textField the name of the Y.Text root whose text `GET /:id` returns.
 * @param {object} options.documentName the JSON schema of the `:document` param (the app's rule for names).
 * @param {(request: import('fastify').FastifyRequest) => boolean} options.mayWrite whether a request may make
 *   or restore versions; a refused one gets DEMO_VERSIONS_FORBIDDEN (403). The library checks nothing, so give
 *   the rule that lets a client write the document (the same check as the socket route's).
 * @param {object} [options.rateLimit] @fastify/rate-limit's per-route options for the routes that compute a
 *   diff or write a version (`GET /:id`, both POSTs), when the app registered @fastify/rate-limit. Default: none.
 * @throws {Error} at registration when `fastify.collab.versions` is undefined (no `history` option).
 */
export async function versionsRoutes (fastify, { textField, documentName, mayWrite, rateLimit }) {
  const { versions } = fastify.collab
  if (versions === undefined) throw new Error('the versions routes need the history option of fastify-collab')
  const config = rateLimit === undefined ? {} : { rateLimit }
  const params = { type: 'object', properties: { document: documentName }, required: ['document'] }
  const versionParams = { type: 'object', properties: { document: documentName, id: versionId }, required: ['document', 'id'] }

  // Before the body is read or validated: a refused request learns nothing about what it sent.
  async function writer (request) {
    if (!mayWrite(request)) throw new DEMO_VERSIONS_FORBIDDEN(request.params.document)
  }

  fastify.get('/', {
    schema: {
      params,
      querystring: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, before: versionId }
      },
      response: {
        200: { type: 'object', properties: { versions: { type: 'array', items: versionInfo }, next: { type: ['integer', 'null'] } }, required: ['versions', 'next'] },
        ...errors
      }
    }
  }, async (request) => {
    const { limit, before } = request.query
    // One more than asked tells whether an older page exists.
    const list = await versions.list(request.params.document, { limit: limit + 1, before })
    const page = list.slice(0, limit)
    return { versions: page.map(infoOf), next: list.length > limit ? page[page.length - 1].id : null }
  })

  fastify.get('/:id', {
    config,
    schema: {
      params: versionParams,
      response: {
        200: { ...versionInfo, properties: { ...versionInfo.properties, text: { type: 'string' }, diff: textDiff }, required: [...versionInfo.required, 'text', 'diff'] },
        ...errors
      }
    }
  }, async (request) => {
    const { document, id } = request.params
    const doc = await versions.get(document, id)
    const text = doc.getText(textField).toString()
    doc.destroy()
    // The version's own record: the newest of those below id + 1, which is id itself unless thinned meanwhile.
    const [[info], diff] = await Promise.all([versions.list(document, { limit: 1, before: id + 1 }), versions.diff(document, id, 'current')])
    if (info?.id !== id) throw new FST_COLLAB_HISTORY_NOT_FOUND(document, String(id))
    // A root that is empty in both states is not in the diff.
    const root = diff.roots.find((each) => each.name === textField && 'changes' in each)
    const { changes, inserted, deleted, granularity } = root ?? { changes: [], inserted: 0, deleted: 0, granularity: 'char' }
    return { ...infoOf(info), text, diff: { changes, inserted, deleted, granularity } }
  })

  fastify.post('/', {
    config,
    onRequest: writer,
    schema: {
      params,
      body: { type: ['object', 'null'], properties: { label: { type: 'string', minLength: 1, maxLength: 1000 } }, additionalProperties: false },
      response: { 201: versionInfo, ...errors }
    }
  }, async (request, reply) => {
    const version = await versions.create(request.params.document, { label: request.body?.label ?? null, context: { access: 'api' } })
    return reply.code(201).send(infoOf(version))
  })

  fastify.post('/:id/restore', {
    config,
    onRequest: writer,
    schema: {
      params: versionParams,
      body: { type: ['object', 'null'], properties: { user: { type: 'string', minLength: 1, maxLength: 32 } }, additionalProperties: false },
      response: { 200: { type: 'object', properties: { restored: versionInfo, saved: versionInfo }, required: ['restored', 'saved'] }, ...errors }
    }
  }, async (request) => {
    const { document, id } = request.params
    const user = request.body?.user
    const { restored, saved } = await versions.restore(document, id, { context: user === undefined ? { access: 'api' } : { access: 'api', user } })
    return { restored: infoOf(restored), saved: infoOf(saved) }
  })
}
