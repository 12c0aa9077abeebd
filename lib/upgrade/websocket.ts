import type { FastifyBaseLogger } from 'fastify'
import { WebSocket } from 'ws'
import { kEarlyFrames, kSocketAlive, kSocketLog } from '../symbols.js'
import type { HeldFrames } from './early-frames.js'

type SendArguments = Parameters<WebSocket['send']>
type SendOptions = Exclude<SendArguments[1], ((err?: Error) => void) | undefined>
type SendCallback = (err?: Error) => void

/** Called when a send leaves a socket's `bufferedAmount` above the limit. */
export type OverflowHandler = (socket: WebSocket) => void

/**
 * The WebSocket class of the plugin's WebSocketServer (ws's `WebSocket`
 * option): every send it makes is checked against `maxBufferedAmount`, so a
 * client that stops reading cannot make the server hold unbounded memory.
 * `fastify.collab` sends through the same `send`. The registry's per-socket
 * fields are declared here so that every socket has one shape.
 *
 * @param limit - maxBufferedAmount in bytes; `0` leaves `send` as ws's.
 */
export function createWebSocketClass (limit: number, onOverflow: OverflowHandler): typeof WebSocket {
  class UpgradedWebSocket extends WebSocket {
    [kSocketLog]: FastifyBaseLogger | null = null;
    [kSocketAlive] = true;
    [kEarlyFrames]: HeldFrames | null = null
  }
  if (limit === 0) return UpgradedWebSocket
  return class BoundedWebSocket extends UpgradedWebSocket {
    override send (data: SendArguments[0], options?: SendOptions | SendCallback, cb?: SendCallback): void {
      super.send(data, options as SendOptions, cb)
      // ws's bufferedAmount: bytes queued in the TCP socket plus those its sender holds.
      if (this.bufferedAmount > limit) onOverflow(this)
    }
  }
}

/**
 * The same bound for a socket completed by a caller's own server
 * (`reply.upgrade({ server })`), whose class is not ours: its `send` is
 * wrapped on the instance, keeping whatever `send` its class has.
 */
export function boundSend (socket: WebSocket, limit: number, onOverflow: OverflowHandler): void {
  if (limit === 0) return
  const send = socket.send
  socket.send = function boundedSend (this: WebSocket, data: SendArguments[0], options?: SendOptions | SendCallback, cb?: SendCallback): void {
    send.call(this, data, options as SendOptions, cb)
    if (this.bufferedAmount > limit) onOverflow(this)
  }
}
