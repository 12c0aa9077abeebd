import type { RawData, WebSocket } from 'ws'
import { kEarlyFrames } from '../symbols.js'

// Early frames: what a client sends between the 101 and the moment the app
// reads the socket. `ws` emits a frame as soon as it parses it, so a route
// handler that awaits anything (a database lookup) between `await
// reply.upgrade()` and its 'message' listener, or `handleConnection`, would
// lose the client's first frames: y-websocket's SyncStep1, Hocuspocus's Auth.
//
// Every upgraded socket's `emit` is wrapped from the handshake on: while no
// 'message' listener took the socket, each frame is held, in order. A
// 'message' listener being added (the 'newListener' event) schedules their delivery for
// the next tick, once the code that adds it has run (handleConnection's
// constructor, the rest of the handler's turn); frames parsed meanwhile are
// held behind them, so the order is the client's. Once a delivery ends with a
// listener still there, the wrapper goes: the socket's `emit` is what it was.
// A delivery that leaves no listener (a `once`, `events.once()`) keeps the rest
// held for the next one.
//
// The socket is read meanwhile (not paused), so pongs, pings and the closing
// handshake work as ever; what is held is bounded by the auth-queue bounds of
// the collab options (they bound the same thing for a collab socket: frames
// nobody has acted on yet). Past them the frames are dropped and the socket is
// closed (see Sockets). The frames still held when the socket closes are dropped.

/** The bounds of the frames held for one socket, and what closes it past them. */
export interface EarlyFrameLimits {
  /** Bytes of frame payloads held at once (`authQueueMaxBytes`); more closes the socket. */
  readonly maxBytes: number
  /** Frames held at once (`authQueueMaxFrames`); more closes the socket. */
  readonly maxFrames: number
  /** Closes a socket whose held frames passed a bound; called once per socket. */
  readonly onOverflow: (socket: WebSocket, limit: 'authQueueMaxBytes' | 'authQueueMaxFrames') => void
}

type Emit = WebSocket['emit']

/** What one socket holds, from the handshake until a 'message' listener keeps it. */
export interface HeldFrames {
  readonly limits: EarlyFrameLimits
  /** The socket's `emit` before the hold: ws's, or the validating one of a route with `schema.message`. */
  readonly emit: Emit
  /** Held frames, flat: data, isBinary, data, isBinary... ws's two 'message' arguments. */
  frames: unknown[]
  bytes: number
  /** A delivery is scheduled (a 'message' listener came). */
  scheduled: boolean
  /** A bound was passed: the socket is closing, and what comes now is dropped. */
  overflowed: boolean
}

type HoldingSocket = WebSocket & { [kEarlyFrames]: HeldFrames | null }

/** Bytes of a 'message' payload, whatever ws's `binaryType` made of it. */
function byteLength (data: RawData | Blob): number {
  if (Array.isArray(data)) {
    let length = 0
    for (const fragment of data) length += fragment.length
    return length
  }
  return data instanceof Blob ? data.size : data.byteLength
}

/**
 * Holds the socket's frames until a 'message' listener takes them (see above).
 * Call it once the socket's `emit` is final (after `validateMessages`), before
 * the socket reaches any code that could add a listener.
 */
export function holdEarlyFrames (socket: WebSocket, limits: EarlyFrameLimits): void {
  const holding = socket as HoldingSocket
  holding[kEarlyFrames] = { limits, emit: socket.emit, frames: [], bytes: 0, scheduled: false, overflowed: false }
  socket.emit = emitHolding
  socket.on('newListener', onNewListener)
}

// The socket's `emit` while it holds. Shared by every socket: `this` is the socket.
function emitHolding (this: HoldingSocket, event: string | symbol, ...args: unknown[]): boolean {
  const held = this[kEarlyFrames] as HeldFrames
  if (event === 'message') {
    hold(this, held, args[0] as RawData, args[1] as boolean)
    return false
  }
  // Nothing is emitted after 'close': what is held would never be read.
  if (event === 'close') release(this, held)
  return held.emit.call(this, event, ...args)
}

// The socket's 'newListener' listener while it holds (EventEmitter emits
// 'newListener' only to sockets that listen for it).
function onNewListener (this: WebSocket, event: string | symbol): void {
  const held = (this as HoldingSocket)[kEarlyFrames] as HeldFrames
  if (event !== 'message' || held.scheduled) return
  held.scheduled = true
  process.nextTick(deliver, this)
}

function hold (socket: HoldingSocket, held: HeldFrames, data: RawData, isBinary: boolean): void {
  if (held.overflowed) return
  held.frames.push(data, isBinary)
  held.bytes += byteLength(data)
  const { maxBytes, maxFrames, onOverflow } = held.limits
  const passed = held.bytes > maxBytes ? 'authQueueMaxBytes' : held.frames.length / 2 > maxFrames ? 'authQueueMaxFrames' : null
  if (passed === null) return
  held.overflowed = true
  held.frames = []
  held.bytes = 0
  onOverflow(socket, passed)
}

// process.nextTick callback: the held frames, in order, to the 'message'
// listeners, for as long as there are any.
function deliver (socket: HoldingSocket): void {
  const held = socket[kEarlyFrames]
  // Closed meanwhile.
  if (held === null) return
  held.scheduled = false
  if (held.overflowed) return
  const { frames } = held
  let i = 0
  while (i < frames.length && socket.listenerCount('message') > 0) {
    const data = frames[i] as RawData
    const isBinary = frames[i + 1]
    i += 2
    held.bytes -= byteLength(data)
    held.emit.call(socket, 'message', data, isBinary)
  }
  if (i === frames.length && socket.listenerCount('message') > 0) {
    release(socket, held)
    return
  }
  frames.splice(0, i)
}

/** Ends the hold: the socket's `emit` is the one it had, and what is held is dropped. */
function release (socket: HoldingSocket, held: HeldFrames): void {
  socket.emit = held.emit
  socket.removeListener('newListener', onNewListener)
  socket[kEarlyFrames] = null
}
