// Pure encode/decode of what crosses instances. One Redis message carries a
// batch: everything one instance has for another at the end of an event-loop
// turn, so publishes per update grow with the instances, not the sockets.
//
//   message  = varUint(VERSION) varString(sender) varUint(seq) varUint(count) entry*
//   entry    = varUint(kind) fields (below)
//
// `seq` counts the messages from `sender` to this receiver, from 1. A gap means
// a message was lost (a subscriber reconnect, Redis restarted, a publish that
// failed), and the sessions on that link are reset: the clients' own
// SyncStep1/SyncStep2 exchange then repairs what was lost.
//
// Encodings are lib0's, as in y-protocols: varUint, varString, varUint8Array.

import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/** Bumped when the layout changes; a message of another version is refused as a gap. */
export const ENVELOPE_VERSION = 1

/** The wire format a proxied session speaks, as sent in OPEN. */
export const WireCode = { YWebsocket: 0, Hocuspocus: 1 } as const
export type WireCodeValue = typeof WireCode[keyof typeof WireCode]

/** How an END closes a proxied session on the edge. */
export const EndMode = {
  /** The whole socket closes with `code` (`fail`, `close`, `reset` on the owner). */
  Socket: 0,
  /** Only this document's session ends (a Hocuspocus CLOSE; y-websocket closes with 1000). */
  Session: 1
} as const
export type EndModeValue = typeof EndMode[keyof typeof EndMode]

/** Why an OPEN was refused. */
export const RefuseReason = {
  /** The receiver does not own the document (any more): place it again. */
  NotOwner: 0,
  /** The owner could not serve it (load failed, closing); the reason says why. */
  Failed: 1
} as const
export type RefuseReasonValue = typeof RefuseReason[keyof typeof RefuseReason]

/** The kinds of entries, and who sends them. */
export const Kind = {
  /** edge → owner: serve a session. */
  Open: 0,
  /** owner → edge: the session is attached. */
  Opened: 1,
  /** owner → edge: the session was not attached. */
  Refused: 2,
  /** edge → owner: one client frame of a session. */
  Frame: 3,
  /** edge → owner: the client left (socket closed, or a Hocuspocus CLOSE). */
  Leave: 4,
  /** owner → edge: one frame for several sessions, encoded once. */
  Send: 5,
  /** owner → edge: the owner ends a session. */
  End: 6,
  /** owner → edge: stop reading the session's socket (beforeHandleMessage runs on the owner). */
  Pause: 7,
  /** owner → edge: read the session's socket again. */
  Resume: 8,
  /** edge → owner: run an owner task for a session's document (a direct connection's `versions.create`, …). */
  Call: 9,
  /** owner → edge: the encoded outcome of a Call. */
  Answer: 10
} as const

export type Entry =
  | {
    kind: typeof Kind.Open
    session: number
    documentName: string
    address: string
    protocol: WireCodeValue
    readOnly: boolean
    /** v8-serialised `{ context, request }`, see remote-request.ts. */
    state: Uint8Array
  }
  | { kind: typeof Kind.Opened, session: number }
  | { kind: typeof Kind.Refused, session: number, reason: RefuseReasonValue, message: string }
  | { kind: typeof Kind.Frame, session: number, frame: Uint8Array }
  | { kind: typeof Kind.Leave, session: number }
  | { kind: typeof Kind.Send, sessions: number[], frame: Uint8Array }
  | { kind: typeof Kind.End, session: number, mode: EndModeValue, code: number, reason: string }
  | { kind: typeof Kind.Pause | typeof Kind.Resume, session: number }
  /** `call` numbers the session's calls; `args` and `outcome` are v8-serialised (see collab/owner-tasks.ts). */
  | { kind: typeof Kind.Call, session: number, call: number, name: string, args: Uint8Array }
  | { kind: typeof Kind.Answer, session: number, call: number, outcome: Uint8Array }

export interface Envelope {
  sender: string
  seq: number
  entries: Entry[]
}

function writeEntry (encoder: encoding.Encoder, entry: Entry): void {
  encoding.writeVarUint(encoder, entry.kind)
  switch (entry.kind) {
    case Kind.Open:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarString(encoder, entry.documentName)
      encoding.writeVarString(encoder, entry.address)
      encoding.writeVarUint(encoder, entry.protocol)
      encoding.writeVarUint(encoder, entry.readOnly ? 1 : 0)
      encoding.writeVarUint8Array(encoder, entry.state)
      return
    case Kind.Opened:
    case Kind.Leave:
    case Kind.Pause:
    case Kind.Resume:
      encoding.writeVarUint(encoder, entry.session)
      return
    case Kind.Refused:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarUint(encoder, entry.reason)
      encoding.writeVarString(encoder, entry.message)
      return
    case Kind.Frame:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarUint8Array(encoder, entry.frame)
      return
    case Kind.Send:
      encoding.writeVarUint(encoder, entry.sessions.length)
      for (const session of entry.sessions) encoding.writeVarUint(encoder, session)
      encoding.writeVarUint8Array(encoder, entry.frame)
      return
    case Kind.End:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarUint(encoder, entry.mode)
      encoding.writeVarUint(encoder, entry.code)
      encoding.writeVarString(encoder, entry.reason)
      return
    case Kind.Call:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarUint(encoder, entry.call)
      encoding.writeVarString(encoder, entry.name)
      encoding.writeVarUint8Array(encoder, entry.args)
      return
    case Kind.Answer:
      encoding.writeVarUint(encoder, entry.session)
      encoding.writeVarUint(encoder, entry.call)
      encoding.writeVarUint8Array(encoder, entry.outcome)
  }
}

/** Encodes a batch of entries from `sender`, the `seq`-th message on its link to the receiver. */
export function encodeEnvelope (sender: string, seq: number, entries: readonly Entry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, ENVELOPE_VERSION)
  encoding.writeVarString(encoder, sender)
  encoding.writeVarUint(encoder, seq)
  encoding.writeVarUint(encoder, entries.length)
  for (const entry of entries) writeEntry(encoder, entry)
  return encoding.toUint8Array(encoder)
}

function readEntry (decoder: decoding.Decoder): Entry {
  const kind = decoding.readVarUint(decoder)
  switch (kind) {
    case Kind.Open: return {
      kind: Kind.Open,
      session: decoding.readVarUint(decoder),
      documentName: decoding.readVarString(decoder),
      address: decoding.readVarString(decoder),
      protocol: decoding.readVarUint(decoder) === WireCode.Hocuspocus ? WireCode.Hocuspocus : WireCode.YWebsocket,
      readOnly: decoding.readVarUint(decoder) === 1,
      state: decoding.readVarUint8Array(decoder)
    }
    case Kind.Opened: return { kind: Kind.Opened, session: decoding.readVarUint(decoder) }
    case Kind.Leave: return { kind: Kind.Leave, session: decoding.readVarUint(decoder) }
    case Kind.Pause: return { kind: Kind.Pause, session: decoding.readVarUint(decoder) }
    case Kind.Resume: return { kind: Kind.Resume, session: decoding.readVarUint(decoder) }
    case Kind.Refused: return {
      kind: Kind.Refused,
      session: decoding.readVarUint(decoder),
      reason: decoding.readVarUint(decoder) === RefuseReason.NotOwner ? RefuseReason.NotOwner : RefuseReason.Failed,
      message: decoding.readVarString(decoder)
    }
    case Kind.Frame: return { kind: Kind.Frame, session: decoding.readVarUint(decoder), frame: decoding.readVarUint8Array(decoder) }
    case Kind.Send: {
      const count = decoding.readVarUint(decoder)
      const sessions: number[] = []
      for (let i = 0; i < count; i++) sessions.push(decoding.readVarUint(decoder))
      return { kind: Kind.Send, sessions, frame: decoding.readVarUint8Array(decoder) }
    }
    case Kind.End: return {
      kind: Kind.End,
      session: decoding.readVarUint(decoder),
      mode: decoding.readVarUint(decoder) === EndMode.Session ? EndMode.Session : EndMode.Socket,
      code: decoding.readVarUint(decoder),
      reason: decoding.readVarString(decoder)
    }
    case Kind.Call: return {
      kind: Kind.Call,
      session: decoding.readVarUint(decoder),
      call: decoding.readVarUint(decoder),
      name: decoding.readVarString(decoder),
      args: decoding.readVarUint8Array(decoder)
    }
    case Kind.Answer: return { kind: Kind.Answer, session: decoding.readVarUint(decoder), call: decoding.readVarUint(decoder), outcome: decoding.readVarUint8Array(decoder) }
    default: throw new RangeError(`unknown envelope entry kind ${kind}`)
  }
}

/**
 * Decodes a message published by another instance.
 *
 * @throws {RangeError} on another envelope version or an unknown entry kind;
 *   lib0's error on a truncated message. The receiver treats either as a lost
 *   message on that link.
 */
export function decodeEnvelope (message: Uint8Array): Envelope {
  const decoder = decoding.createDecoder(message)
  const version = decoding.readVarUint(decoder)
  if (version !== ENVELOPE_VERSION) throw new RangeError(`envelope version ${version}, expected ${ENVELOPE_VERSION}`)
  const sender = decoding.readVarString(decoder)
  const seq = decoding.readVarUint(decoder)
  const count = decoding.readVarUint(decoder)
  const entries: Entry[] = []
  for (let i = 0; i < count; i++) entries.push(readEntry(decoder))
  return { sender, seq, entries }
}

/** The envelope's sender, read without decoding the rest: a message that fails to decode still names its link. */
export function senderOf (message: Uint8Array): string | null {
  try {
    const decoder = decoding.createDecoder(message)
    decoding.readVarUint(decoder)
    return decoding.readVarString(decoder)
  } catch {
    return null
  }
}
