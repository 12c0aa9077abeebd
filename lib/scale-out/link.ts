// The links between this instance and each other one: what goes out is
// batched per destination and sent once per event-loop turn, numbered, and
// bounded; what comes in is checked for gaps in those numbers. Nothing is
// dropped in silence: an entry the bound drops is a gap the destination
// sees, so it resets its side of every session on the link.

import type { ResetReason } from '../diagnostics.js'
import { type Entry, encodeEnvelope, Kind } from './envelope.js'

/** What a link reports about its destination. */
export interface LinkEvents {
  /**
   * Messages on the link may have been lost (a publish failed: `publish`, or
   * reached no subscriber, the destination being gone or reconnecting:
   * `unreachable`), or more bytes wait for the destination than `maxBytes`
   * (`overflow`): the sessions on the link must resync. `message` says it in words.
   */
  broken: (destination: string, reason: ResetReason, message: string) => void
  /** The bytes waiting for the destination crossed half of `maxBytes` (true), or fell back under a quarter (false). */
  pressure: (destination: string, high: boolean) => void
}

/** Sends one message to an instance; resolves with how many subscribers received it. */
export type Publish = (destination: string, message: Uint8Array) => Promise<number>

// Entries are counted by their payload: the framing around them is a few bytes.
function sizeOf (entry: Entry): number {
  switch (entry.kind) {
    case Kind.Open: return entry.state.byteLength + entry.documentName.length + entry.address.length
    case Kind.Frame:
    case Kind.Send: return entry.frame.byteLength
    case Kind.Call: return entry.args.byteLength + entry.name.length
    case Kind.Answer: return entry.outcome.byteLength
    default: return 8
  }
}

/**
 * Everything this instance has for one other instance. Entries queue during
 * a turn and leave in one publish at the end of it; consecutive sends of the
 * same frame (a broadcast encoded once) travel once with the list of sessions.
 *
 * Past `maxBytes` the link overflows: what is queued is dropped, every session
 * on the link is reset here (`broken`), and every entry added until the bytes
 * in flight fall under a quarter of `maxBytes` is dropped too (the resets' own
 * End and Leave entries among them, so a reset never feeds another). The next
 * message then skips a sequence number: the destination sees the gap and
 * resets its side of every session on the link.
 */
export class Outlink {
  readonly destination: string
  #seq = 0
  #entries: Entry[] = []
  #queuedBytes = 0
  #inFlightBytes = 0
  #high = false
  #overflowed = false
  // Entries were dropped: the next message skips a sequence number.
  #gap = false
  // The last publish: Redis answers a connection's commands in order, so once
  // it settles every earlier one has.
  #published: Promise<unknown> = Promise.resolve()

  constructor (destination: string, private readonly links: Links) {
    this.destination = destination
  }

  /** Bytes queued or published but not yet confirmed by Redis. */
  get pendingBytes (): number {
    return this.#queuedBytes + this.#inFlightBytes
  }

  /** Queues an entry for this turn's message; dropped while the link is overflowed (see the class). */
  add (entry: Entry): void {
    this.#push(entry, sizeOf(entry))
  }

  /** Queues a frame for one session, merged with the previous entry when it is the same frame (a broadcast). */
  send (session: number, frame: Uint8Array): void {
    const last = this.#entries[this.#entries.length - 1]
    if (last?.kind === Kind.Send && last.frame === frame) {
      last.sessions.push(session)
      return
    }
    this.#push({ kind: Kind.Send, sessions: [session], frame }, frame.byteLength)
  }

  #push (entry: Entry, bytes: number): void {
    if (this.#overflowed) {
      this.#gap = true
      return
    }
    this.#entries.push(entry)
    this.#queuedBytes += bytes
    this.links.schedule(this)
    this.#checkPressure()
  }

  #checkPressure (): void {
    const pending = this.pendingBytes
    const { maxBytes, events } = this.links
    if (this.#overflowed) {
      if (pending >= maxBytes / 4) return
      this.#overflowed = false
      // The gap goes out now, in a message of its own if nothing else comes this turn.
      this.links.schedule(this)
      return
    }
    if (pending > maxBytes) {
      this.#entries = []
      this.#queuedBytes = 0
      this.#overflowed = true
      this.#gap = true
      if (this.#high) {
        this.#high = false
        events.pressure(this.destination, false)
      }
      events.broken(this.destination, 'overflow', `more than ${maxBytes} bytes wait for instance ${this.destination}`)
      return
    }
    if (!this.#high && pending > maxBytes / 2) {
      this.#high = true
      events.pressure(this.destination, true)
    } else if (this.#high && pending < maxBytes / 4) {
      this.#high = false
      events.pressure(this.destination, false)
    }
  }

  /** Settles once every message published so far has been answered by Redis. */
  settled (): Promise<unknown> {
    return this.#published
  }

  /** Publishes what this turn queued, as one numbered message (skipping a number after dropped entries). */
  flush (): void {
    if (this.#overflowed || (this.#entries.length === 0 && !this.#gap)) return
    if (this.#gap) {
      this.#seq++
      this.#gap = false
    }
    const message = encodeEnvelope(this.links.instanceId, ++this.#seq, this.#entries)
    const bytes = this.#queuedBytes
    this.#entries = []
    this.#queuedBytes = 0
    this.#inFlightBytes += bytes
    this.#published = this.links.publish(this.destination, message).then((receivers) => {
      if (receivers === 0) this.links.events.broken(this.destination, 'unreachable', `instance ${this.destination} is not listening`)
    }, (error: Error) => {
      this.links.events.broken(this.destination, 'publish', `a publish to instance ${this.destination} failed: ${error.message}`)
    }).finally(() => {
      this.#inFlightBytes -= bytes
      this.#checkPressure()
    })
  }
}

/**
 * Every link of this instance: one outgoing queue per destination, flushed
 * together once per turn, and the sequence number expected from each sender.
 */
export class Links {
  readonly #out = new Map<string, Outlink>()
  readonly #expected = new Map<string, number>()
  // When the last message from each sender arrived (Date.now()): a sender that
  // is heard from is alive, whatever its heartbeat says.
  readonly #heard = new Map<string, number>()
  readonly #dirty = new Set<Outlink>()
  #scheduled = false

  /**
   * @param instanceId this instance, the sender of every outgoing message.
   * @param maxBytes the bound on the bytes waiting for one destination.
   */
  constructor (
    readonly instanceId: string,
    readonly maxBytes: number,
    readonly publish: Publish,
    readonly events: LinkEvents
  ) {}

  /** The outgoing link to `destination`, created on first use. */
  to (destination: string): Outlink {
    let link = this.#out.get(destination)
    if (link === undefined) this.#out.set(destination, link = new Outlink(destination, this))
    return link
  }

  /**
   * Forgets an instance whose heartbeat lapsed: its id never comes back (a
   * restarted process has a new one), so its link and sequence number go.
   */
  forget (instanceId: string): void {
    this.#out.delete(instanceId)
    this.#expected.delete(instanceId)
    this.#heard.delete(instanceId)
  }

  /**
   * Publishes what is queued now and settles once Redis has answered every publish, or after
   * `timeoutMs` (a Redis that is gone must not hold a shutdown up).
   */
  async drain (timeoutMs: number): Promise<void> {
    this.#flushAll()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#out.values()].map(link => link.settled())),
      new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }

  /** @internal Called by an Outlink with entries to send this turn. */
  schedule (link: Outlink): void {
    this.#dirty.add(link)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#flushAll)
  }

  readonly #flushAll = (): void => {
    this.#scheduled = false
    const links = [...this.#dirty]
    this.#dirty.clear()
    for (const link of links) link.flush()
  }

  /**
   * Checks the sequence number of a message from `sender`.
   * @returns false when messages from `sender` were lost before this one.
   */
  accept (sender: string, seq: number): boolean {
    // A sender's first message is 1; a later one first heard from here (its earlier ones lost, or forgotten
    // when it was judged gone) is a gap too.
    const expected = this.#expected.get(sender) ?? 1
    this.#expected.set(sender, seq + 1)
    this.#heard.set(sender, Date.now())
    return expected === seq
  }

  /** Whether a message from `sender` arrived within the last `ms` milliseconds. */
  heardWithin (sender: string, ms: number): boolean {
    const at = this.#heard.get(sender)
    return at !== undefined && Date.now() - at <= ms
  }
}
