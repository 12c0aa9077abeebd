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

/**
 * An open WebSocket over `socket` after a 101: reads unmasked server frames
 * (RFC 6455 §5.2; fragmented messages are joined), answers pings, and sends
 * binary messages with the zero masking key, where the masked payload is the
 * payload itself and needs no copy.
 */
export class WireSocket {
  /**
   * @param {object} handlers
   * @param {(payload: Buffer, length: number) => void} handlers.onMessage a message; for one longer than
   *   `truncateOver`, only its first `TRUNCATED_HEAD` bytes and its full `length` (the rest is read and dropped)
   * @param {number} [handlers.truncateOver] messages longer than this are not buffered (a join storm's
   *   clients would otherwise hold 150 copies of a 20 MB document)
   */
  constructor (socket, rest, { onMessage, onClose, truncateOver = Infinity }) {
    this.socket = socket
    this.onMessage = onMessage
    this.truncateOver = truncateOver
    // Received bytes not parsed yet, as a list of chunks, joined once enough is there.
    this.chunks = []
    this.buffered = 0
    this.needed = 2
    // The bytes still to drop of a truncated message.
    this.skipping = 0
    this.fragments = null
    this.closed = false
    this.onClose = onClose
    socket.on('error', (error) => this.end(error))
    socket.on('close', () => this.end(new Error('connection closed')))
    // Frames that came with the 101 are read once the caller holds this object.
    queueMicrotask(() => {
      if (rest.length > 0) this.read(rest)
      socket.on('data', (chunk) => this.read(chunk))
      socket.resume()
    })
  }

  /** Sends `payload` as one binary message. */
  send (payload) {
    const length = payload.length
    let header
    if (length < 126) header = Buffer.from([0x82, 0x80 | length, 0, 0, 0, 0])
    else if (length < 65536) header = Buffer.from([0x82, 0xfe, length >> 8, length & 0xff, 0, 0, 0, 0])
    else {
      header = Buffer.alloc(14)
      header[0] = 0x82
      header[1] = 0xff
      header.writeBigUInt64BE(BigInt(length), 2)
    }
    this.socket.cork()
    this.socket.write(header)
    this.socket.write(payload)
    process.nextTick(uncork, this.socket)
  }

  close () {
    this.closed = true
    this.socket.destroy()
  }

  end (error) {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    this.onClose(error)
  }

  read (chunk) {
    if (this.skipping > 0) {
      const dropped = Math.min(this.skipping, chunk.length)
      this.skipping -= dropped
      if (dropped === chunk.length) return
      chunk = chunk.subarray(dropped)
    }
    if (this.buffered > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      // A long frame arrives in many chunks: they are joined once, when it is complete, not once per chunk.
      if (this.buffered < this.needed) return
      chunk = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered)
      this.chunks = []
      this.buffered = 0
    }
    let pos = 0
    this.needed = 2
    while (chunk.length - pos >= 2) {
      const b0 = chunk[pos]
      let length = chunk[pos + 1] & 0x7f
      let head = 2
      if (length === 126) {
        if (chunk.length - pos < 4) { this.needed = 4; break }
        length = chunk.readUInt16BE(pos + 2)
        head = 4
      } else if (length === 127) {
        if (chunk.length - pos < 10) { this.needed = 10; break }
        length = Number(chunk.readBigUInt64BE(pos + 2))
        head = 10
      }
      const opcode = b0 & 0x0f
      const fin = (b0 & 0x80) !== 0
      if (length > this.truncateOver && fin && opcode === 0x2 && this.fragments === null) {
        // Its head is enough: hand it over and drop the rest as it comes.
        if (chunk.length - pos < head + TRUNCATED_HEAD) { this.needed = head + TRUNCATED_HEAD; break }
        const available = Math.min(length, chunk.length - pos - head)
        this.onMessage(Buffer.from(chunk.subarray(pos + head, pos + head + TRUNCATED_HEAD)), length)
        if (this.closed) return
        if (available < length) {
          this.skipping = length - available
          return
        }
        pos += head + length
        continue
      }
      if (chunk.length - pos < head + length) { this.needed = head + length; break }
      this.frame(opcode, fin, chunk.subarray(pos + head, pos + head + length))
      pos += head + length
      if (this.closed) return
    }
    if (pos < chunk.length) {
      this.chunks.push(chunk.subarray(pos))
      this.buffered = chunk.length - pos
    }
  }

  frame (opcode, fin, payload) {
    if (opcode === 0x9) { // ping: answer with a pong carrying the same payload
      this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]))
      return
    }
    if (opcode === 0x8) return this.end(new Error(`closed by the server with ${payload.length >= 2 ? payload.readUInt16BE(0) : 1005}`))
    if (opcode === 0xa) return
    if (!fin || this.fragments !== null) {
      this.fragments ??= []
      this.fragments.push(Buffer.from(payload))
      if (!fin) return
      payload = Buffer.concat(this.fragments)
      this.fragments = null
    }
    this.onMessage(payload, payload.length)
  }
}

/** The bytes of a truncated message that WireSocket hands over: enough for a Hocuspocus document name and the message types. */
export const TRUNCATED_HEAD = 256

function uncork (socket) {
  socket.uncork()
}
