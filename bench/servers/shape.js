// The route shape every upgrade system serves: GET /echo?token=..., where the
// querystring schema requires `token` and one auth hook answers 401 unless
// token === 'ok'. An accepted socket echoes every message.
export const querystring = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string' } }
}

export function echo (socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
}

// Issue 10 §3: a 1 KiB JSON message of an editor-like protocol, and its schema.
export const messageSchema = {
  type: 'object',
  required: ['type', 'document', 'user', 'ops'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['edit', 'cursor'] },
    document: { type: 'string', maxLength: 64 },
    revision: { type: 'integer', minimum: 0 },
    user: {
      type: 'object',
      required: ['id', 'name'],
      properties: { id: { type: 'string' }, name: { type: 'string' }, color: { type: 'string', pattern: '^#[0-9a-f]{6}$' } }
    },
    ops: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['at'],
        properties: { at: { type: 'integer', minimum: 0 }, insert: { type: 'string' }, delete: { type: 'integer', minimum: 1 } }
      }
    }
  }
}

/** A message that passes messageSchema, padded to `bytes` of JSON. */
export function sampleMessage (bytes = 1024) {
  const message = { type: 'edit', document: 'notes-2026', revision: 4711, user: { id: 'u-42', name: 'Ada', color: '#aa3377' }, ops: [] }
  for (let at = 0; JSON.stringify(message).length < bytes - 40; at += 7) message.ops.push({ at, insert: 'lorem ip' })
  const text = JSON.stringify(message)
  message.ops.push({ at: 1, insert: 'x'.repeat(Math.max(0, bytes - text.length - 21)) })
  return message
}
