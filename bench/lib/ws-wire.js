// A minimal WebSocket client on a bare TCP socket, for the upgrade benchmark:
// a `ws` client costs more CPU per handshake than the server it talks to, so
// with it the load generator's core would saturate first and the figures
// would measure the generator. This one writes a fixed upgrade request, reads
// the response head, and sends pre-built masked frames (RFC 6455 §5.2/§5.3;
// the all-zero masking key is a valid key, just not a secret one).
import net from 'node:net'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==' // RFC 6455 §1.3's sample nonce

/** A masked client frame (FIN set) with `opcode` and `payload`. */
export function clientFrame (opcode, payload) {
  const length = payload.length
  const header = length < 126
    ? Buffer.from([0x80 | opcode, 0x80 | length])
    : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
  return Buffer.concat([header, Buffer.alloc(4), payload])
}

/** The size of the unmasked server frame that carries `payloadLength` bytes. */
export const serverFrameSize = (payloadLength) => payloadLength + (payloadLength < 126 ? 2 : 4)

export const PING_FRAME = clientFrame(0x1, Buffer.from('ping'))
export const CLOSE_FRAME = clientFrame(0x8, Buffer.from([0x03, 0xe8])) // 1000

/**
 * Connects to 127.0.0.1:`port`, asks to upgrade `path`, and resolves once the
 * response head has been read, with the status, the content-length and the
 * bytes that followed the head. The socket is paused for the caller.
 */
export function upgradeRequest (port, path) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let head = Buffer.alloc(0)
    socket.on('error', reject)
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    socket.on('data', function onHead (chunk) {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onHead)
      socket.off('error', reject)
      socket.pause()
      const text = head.subarray(0, end).toString('latin1')
      const status = Number(text.slice(9, 12))
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)
      resolve({ socket, status, contentLength: length === null ? 0 : Number(length[1]), rest: head.subarray(end + 4) })
    })
  })
}

/** Resolves once `count` bytes (counting `already`) have arrived on the paused `socket`. */
export function readBytes (socket, count, already = 0) {
  return new Promise((resolve, reject) => {
    let received = already
    if (received >= count) return resolve()
    const onData = (chunk) => {
      received += chunk.length
      if (received < count) return
      socket.off('data', onData)
      socket.off('error', reject)
      socket.pause()
      resolve()
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.resume()
  })
}
