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
