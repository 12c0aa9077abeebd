import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeUtf8 } from 'lib0/string'
import { type Awareness, applyAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import { FST_COLLAB_AWARENESS_TOO_LARGE, FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS, FST_COLLAB_BAD_FRAME } from '../errors.js'
import { type Limits, MAX_AWARENESS_DEPTH } from './limits.js'
import type { Attachment, Collab } from './types.js'
import { publishLimit } from '../diagnostics.js'

/** One entry of an awareness update (y-protocols awareness.js): `varUint(clientID) varUint(clock) varString(json)`. */
interface Entry {
  client: number
  clock: number
  json: string
  state: unknown
}

/** Whether `json` nests arrays and objects deeper than `max` (strings skipped): a scan, no recursion. */
function nestsDeeperThan (json: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

/**
 * Decodes an awareness update completely, so a malformed or oversized one is
 * refused before any state changes.
 *
 * @throws {FST_COLLAB_AWARENESS_TOO_LARGE} when a state's JSON is longer than `maxStateBytes`.
 * @throws {FST_COLLAB_BAD_FRAME} when it is truncated, a state is not JSON, or nests deeper than MAX_AWARENESS_DEPTH.
 */
function decodeEntries (update: Uint8Array, maxStateBytes: number): Entry[] {
  const entries: Entry[] = []
  try {
    const decoder = decoding.createDecoder(update)
    const count = decoding.readVarUint(decoder)
    for (let i = 0; i < count; i++) {
      const client = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const bytes = decoding.readVarUint8Array(decoder)
      if (bytes.length > maxStateBytes) throw new FST_COLLAB_AWARENESS_TOO_LARGE(bytes.length, maxStateBytes)
      const json = decodeUtf8(bytes)
      if (nestsDeeperThan(json, MAX_AWARENESS_DEPTH)) throw new FST_COLLAB_BAD_FRAME(`an awareness state nested deeper than ${MAX_AWARENESS_DEPTH} levels`)
      entries.push({ client, clock, json, state: JSON.parse(json) })
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('FST_COLLAB_') === true) throw error
    throw new FST_COLLAB_BAD_FRAME(`invalid awareness update: ${(error as Error).message}`)
  }
  return entries
}

function encodeEntries (entries: Entry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const { client, clock, json } of entries) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, json)
  }
  return encoding.toUint8Array(encoder)
}

/**
 * A document's awareness, with its bounds and who owns each state: the
 * attachment that last added or updated it. y-protocols keeps a client's
 * clock after its state is removed, so a provider that reconnects with the
 * same `doc.clientID` comes back as `updated`, not `added`; ownership follows
 * it either way. When the attachment leaves, exactly its states are removed.
 */
export class DocumentAwareness {
  private readonly owners = new Map<number, Attachment>()

  /** @param instance the app's `fastify.collab`, for the limit refusals it publishes. */
  constructor (readonly awareness: Awareness, private readonly limits: Limits, private readonly instance: Collab) {}

  /**
   * Applies `update` from `origin`. Every source gets the format checks and
   * `maxAwarenessStateBytes`; an attached connection also gets the ownership
   * rules: it may not remove a state another attachment owns (y-websocket
   * clients echo every change they see, removals of timed-out peers
   * included), it may own at most `maxAwarenessClientsPerConnection` client
   * IDs, and a new client is not added once the document holds `maxAwarenessStates`.
   *
   * @returns true when a new state was left out because the document is full.
   * @throws {FST_COLLAB_AWARENESS_TOO_LARGE}, {FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS} or
   *   {FST_COLLAB_BAD_FRAME}; nothing is applied then.
   */
  apply (update: Uint8Array, origin: unknown, attachment: Attachment | undefined): boolean {
    let entries: Entry[]
    try {
      entries = decodeEntries(update, this.limits.maxAwarenessStateBytes)
    } catch (error) {
      if (error instanceof FST_COLLAB_AWARENESS_TOO_LARGE) publishLimit(this.instance, 'maxAwarenessStateBytes')
      throw error
    }
    if (attachment === undefined) {
      applyAwarenessUpdate(this.awareness, update, origin)
      return false
    }
    const { states, meta } = this.awareness
    const kept: Entry[] = []
    let owned = this.clientsOf(attachment).length
    let added = 0
    let full = false
    for (const entry of entries) {
      const { client, clock, state } = entry
      // y-protocols applies an entry only when it is newer (or a removal at the same clock).
      const current = meta.get(client)?.clock ?? 0
      if (!(current < clock || (current === clock && state === null && states.has(client)))) continue
      const owner = this.owners.get(client)
      if (state === null) {
        if (owner === undefined || owner === attachment) kept.push(entry)
        continue
      }
      if (owner !== attachment) owned++
      if (!states.has(client)) {
        if (states.size + added >= this.limits.maxAwarenessStates) {
          full = true
          continue
        }
        added++
      }
      kept.push(entry)
    }
    if (owned > this.limits.maxAwarenessClientsPerConnection) {
      publishLimit(this.instance, 'maxAwarenessClientsPerConnection')
      throw new FST_COLLAB_AWARENESS_TOO_MANY_CLIENTS(this.limits.maxAwarenessClientsPerConnection)
    }
    if (full) publishLimit(this.instance, 'maxAwarenessStates')
    if (kept.length === entries.length) applyAwarenessUpdate(this.awareness, update, origin)
    else if (kept.length > 0) applyAwarenessUpdate(this.awareness, encodeEntries(kept), origin)
    return full
  }

  /** Keeps the owners in step with an applied change (the Awareness 'update' event). */
  track (added: number[], updated: number[], removed: number[], attachment: Attachment | undefined): void {
    if (attachment !== undefined) {
      for (const client of added) this.owners.set(client, attachment)
      for (const client of updated) this.owners.set(client, attachment)
    }
    for (const client of removed) this.owners.delete(client)
  }

  /** The awareness client IDs whose latest state came from `attachment`. */
  clientsOf (attachment: Attachment): number[] {
    const clients: number[] = []
    for (const [client, owner] of this.owners) if (owner === attachment) clients.push(client)
    return clients
  }

  /** Removes for everyone the states `attachment` owns (it left). */
  release (attachment: Attachment): void {
    const clients = this.clientsOf(attachment)
    if (clients.length > 0) removeAwarenessStates(this.awareness, clients, attachment)
    // A state another attachment now owns is not in `clients`; anything else is no longer anyone's.
    for (const client of clients) this.owners.delete(client)
  }

  /**
   * y-protocols keeps the clock (`meta`) of every client it ever saw, so that
   * an outdated update cannot bring a removed state back. Past
   * `maxAwarenessStates` such entries, the oldest half goes. Called after a
   * turn's awareness frame was encoded, which reads the removed clients' clocks.
   */
  prune (): void {
    const { states, meta } = this.awareness
    const max = this.limits.maxAwarenessStates
    let removed = meta.size - states.size
    if (removed <= max) return
    for (const client of meta.keys()) {
      if (removed <= max / 2) return
      if (states.has(client)) continue
      meta.delete(client)
      removed--
    }
  }
}
