// THE ownership of documents by this instance: which documents it owns, under
// which epoch, and when it must stop owning them. One state machine, per
// document, top to bottom:
//
//   (none)    → claiming   place(): nobody here owns it; ask Redis (CLAIM)
//   claiming  → (none)     another live instance holds the lease: the caller proxies to it
//   claiming  → owned      the lease is ours, under a new epoch; the document loads, and its
//                          storage extension records the epoch in the store first (claim)
//   owned     → (none)     the store knows a higher epoch (Redis lost its data and hands out
//                          low epochs again): Redis's counter is raised above it (fenced()),
//                          and the caller places the document again, with a new epoch
//   owned     → (none)     the document unloaded: the lease is given back (RELEASE, compare and set)
//   owned     → lost       renew found another holder; or no renewal succeeded for leaseMs; or the
//                          store fenced a write: the document is deposed (its clients resync
//                          with the new owner) and never acknowledges again
//   lost      → (none)     the deposed document has unloaded
//
// Redis routes; the store's fence protects. Every write carries the epoch it
// was made under, and the store refuses a write whose epoch is lower than the
// last one claimed, so two owners (a paused one waking up, a partition) cost
// availability, never data.

import type { FastifyBaseLogger } from 'fastify'
import type { Collab, Placement } from '../collab/types.js'
import { type OwnershipChange, ownershipChannel, type OwnershipEvent } from '../diagnostics.js'
import { FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import type { Claim } from './redis.js'

/** What ownership needs of Redis (see RedisBus). */
export interface LeaseStore {
  claim (documentName: string, suspects: readonly string[]): Promise<Claim>
  renew (leases: ReadonlyArray<readonly [string, number]>): Promise<string[]>
  release (documentName: string, epoch: number): Promise<void>
  raiseEpoch (epoch: number): Promise<void>
}

/** Deposes a loaded document: called when this instance lost it. */
export type Depose = (documentName: string, reason: string) => void

type Phase =
  | { readonly name: 'claiming', readonly placed: Promise<Placement> }
  | { readonly name: 'owned', readonly epoch: number }
  | { readonly name: 'lost', readonly epoch: number }

export class Ownership {
  readonly #documents = new Map<string, Phase>()
  readonly #leases: LeaseStore
  readonly #depose: Depose
  readonly #log: FastifyBaseLogger
  readonly #leaseMs: number
  readonly #instanceId: string
  readonly #instance: Collab
  #renewal: NodeJS.Timeout | null = null
  #lastRenewal = Date.now()
  #renewing = false

  readonly #suspects: () => string[]

  /**
   * @param instance this instance's `fastify.collab`, which the `fastify-collab:scale-out:ownership` events carry.
   * @param suspects the instances a publish found unreachable lately (see the CLAIM script).
   */
  constructor (instance: Collab, leases: LeaseStore, depose: Depose, suspects: () => string[], leaseMs: number, log: FastifyBaseLogger) {
    this.#instance = instance
    this.#instanceId = instance.instanceId
    this.#leases = leases
    this.#suspects = suspects
    this.#depose = depose
    this.#leaseMs = leaseMs
    this.#log = log
  }

  /** Starts renewing the leases, four times per lease period. */
  start (): void {
    this.#lastRenewal = Date.now()
    this.#renewal = setInterval(this.#renew, Math.max(1, Math.floor(this.#leaseMs / 4))).unref()
  }

  /** Stops renewing. The leases still held expire, or are released as their documents unload. */
  stop (): void {
    if (this.#renewal !== null) clearInterval(this.#renewal)
    this.#renewal = null
  }

  /** The epoch under which this instance owns `documentName`, or null. */
  epochOf (documentName: string): number | null {
    const phase = this.#documents.get(documentName)
    return phase?.name === 'owned' ? phase.epoch : null
  }

  /** How many documents this instance owns now. */
  ownedCount (): number {
    let count = 0
    for (const phase of this.#documents.values()) if (phase.name === 'owned') count++
    return count
  }

  #publish (documentName: string, epoch: number, change: OwnershipChange, reason?: string): void {
    if (!ownershipChannel.hasSubscribers) return
    ownershipChannel.publish({ instance: this.#instance, documentName, epoch, change, reason } satisfies OwnershipEvent)
  }

  /**
   * Where `documentName` is served. Claims it when no live instance holds it;
   * concurrent callers share one claim.
   *
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when Redis cannot be reached.
   */
  place (documentName: string): Promise<Placement> {
    const phase = this.#documents.get(documentName)
    if (phase?.name === 'owned') return Promise.resolve({ here: true, epoch: phase.epoch })
    if (phase?.name === 'claiming') return phase.placed
    // A lost document is still being deposed: nothing new may attach to it,
    // and the next owner is whoever claims now (maybe us again, with a new epoch).
    const placed = this.#claim(documentName)
    this.#documents.set(documentName, { name: 'claiming', placed })
    return placed
  }

  async #claim (documentName: string): Promise<Placement> {
    let claim
    try {
      claim = await this.#leases.claim(documentName, this.#suspects())
    } catch (cause) {
      this.#settle(documentName, null)
      throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause })
    }
    const { owner, epoch } = claim
    if (owner !== this.#instanceId) {
      this.#settle(documentName, null)
      return { here: false, owner }
    }
    this.#settle(documentName, epoch)
    return { here: true, epoch }
  }

  /**
   * The store refused `epoch` for `documentName`: it recorded `higher` (Redis
   * lost its data and hands out low epochs again). Redis's counter is raised
   * above it; the next place() claims with a new, higher epoch.
   */
  async fenced (documentName: string, epoch: number, higher: number): Promise<void> {
    const phase = this.#documents.get(documentName)
    if (phase?.name === 'owned' && phase.epoch === epoch) {
      this.#documents.delete(documentName)
      this.#publish(documentName, epoch, 'lost', 'the store holds a higher epoch')
    }
    this.#log.warn({ documentName, epoch, fence: higher }, 'scale-out: the store holds a higher epoch than Redis handed out; raising it')
    await this.#leases.raiseEpoch(higher)
  }

  // claiming → owned, or back to none. A document deposed meanwhile keeps its phase.
  #settle (documentName: string, epoch: number | null): void {
    if (this.#documents.get(documentName)?.name !== 'claiming') return
    if (epoch === null) {
      this.#documents.delete(documentName)
      return
    }
    this.#documents.set(documentName, { name: 'owned', epoch })
    this.#publish(documentName, epoch, 'claimed')
  }

  /**
   * The document unloaded here (normally, or after being deposed): give its
   * lease back if it is still ours under `epoch`.
   */
  unloaded (documentName: string, epoch: number): void {
    const phase = this.#documents.get(documentName)
    if ((phase?.name === 'owned' || phase?.name === 'lost') && phase.epoch === epoch) {
      this.#documents.delete(documentName)
      if (phase.name === 'owned') this.#publish(documentName, epoch, 'released')
    }
    this.#leases.release(documentName, epoch).catch((err: Error) => {
      // The lease expires by itself; nothing is lost.
      this.#log.debug({ err, documentName }, 'scale-out: could not release a lease')
    })
  }

  /** owned → lost: depose the document, which unloads without storing and resets its clients. */
  lose (documentName: string, reason: string): void {
    const phase = this.#documents.get(documentName)
    if (phase?.name !== 'owned') return
    this.#documents.set(documentName, { name: 'lost', epoch: phase.epoch })
    this.#publish(documentName, phase.epoch, 'lost', reason)
    this.#log.warn({ documentName, epoch: phase.epoch }, `scale-out: stepping down: ${reason}`)
    this.#depose(documentName, reason)
  }

  readonly #renew = (): void => {
    if (this.#renewing) return
    const leases: Array<[string, number]> = []
    for (const [name, phase] of this.#documents) if (phase.name === 'owned') leases.push([name, phase.epoch])
    if (leases.length === 0) {
      this.#lastRenewal = Date.now()
      return
    }
    this.#renewing = true
    const started = Date.now()
    this.#leases.renew(leases).then((lost) => {
      this.#lastRenewal = started
      for (const name of lost) this.lose(name, 'another instance holds its lease')
    }, (err: Error) => {
      // A lease we could not renew for a whole period may be another's by now:
      // owning it any longer could serve stale state.
      if (Date.now() - this.#lastRenewal < this.#leaseMs) return
      this.#log.warn({ err }, 'scale-out: could not renew the leases for a whole lease period')
      for (const [name] of leases) this.lose(name, `no lease renewal for ${this.#leaseMs} ms`)
    }).finally(() => { this.#renewing = false })
  }
}
