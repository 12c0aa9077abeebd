// THE ownership of documents by this instance: which documents it owns, under
// which epoch, for how long it surely holds them, and when it must stop. One
// state machine, per document, top to bottom:
//
//   (none)    → claiming   place(): nobody here owns it. Ask Redis for its lease (CLAIM, under a token
//                          unique to this claim), then the store for a new fencing epoch (claim)
//   claiming  → (none)     another live instance holds the lease: the caller proxies to it; or Redis
//                          or the store failed: the lease (if taken) goes back, the caller retries later
//   claiming  → owned      the lease is ours and the store issued epoch E, higher than every earlier
//                          claim's: the document loads under E, and every write carries E
//   owned     → (none)     the document unloaded: the lease is given back (RELEASE, compare and set)
//   owned     → lost       the tenure passed (no renewal confirmed for leaseMs: paused, partitioned, a
//                          stalled event loop), or a renewal found the lease gone or another's, or the
//                          document stopped serving (the store refused a write under E): the document
//                          steps down (its clients resync with whoever owns it next)
//   lost      → (none)     the deposed document has unloaded
//   lost      → claiming   place() again before that: a new claim, with a new epoch from the store
//
// Redis routes; the store protects. A lease tells instances where to send
// clients, and is never set again once lapsed (RENEW only extends the value
// it still finds). The epoch comes from the store, so Redis losing its data
// costs availability (every owner steps down and clients resync), never an
// acknowledged update: a stale owner's next write is refused.

import type { FastifyBaseLogger } from 'fastify'
import type { Placement, Tenure } from '../collab/contracts.js'
import { type InstanceIdentity, type OwnershipChange, ownershipChannel, type OwnershipEvent } from '../diagnostics.js'
import { FST_COLLAB_SCALE_OUT_UNAVAILABLE } from '../errors.js'
import type { Claim } from './redis.js'

/** What ownership needs of Redis (see RedisBus). */
export interface LeaseStore {
  claim (documentName: string, token: string, suspects: readonly string[]): Promise<Claim>
  renew (leases: ReadonlyArray<readonly [string, string]>): Promise<string[]>
  release (documentName: string, token: string): Promise<void>
}

/** What ownership needs of the durable store: the fencing epochs (a storage extension's `claim`). */
export interface Fence {
  /** @returns a new epoch for the document, higher than every earlier claim's. @rejects when the store cannot issue it. */
  claim (documentName: string): Promise<number>
}

/** Steps down the document loaded under `epoch`: called when this instance lost it. */
export type Depose = (documentName: string, epoch: number, reason: string) => void

/** A tenure whose deadline ownership moves with each confirmed renewal. */
interface HeldTenure extends Tenure {
  validUntil: number
}

type Phase =
  | { readonly name: 'claiming', readonly placed: Promise<Placement>, token: string | null, tenure: HeldTenure | null }
  | { readonly name: 'owned', readonly epoch: number, readonly token: string, readonly tenure: HeldTenure }
  | { readonly name: 'lost', readonly epoch: number, readonly token: string }

export class Ownership {
  readonly #documents = new Map<string, Phase>()
  readonly #leases: LeaseStore
  readonly #fence: Fence
  readonly #depose: Depose
  readonly #log: FastifyBaseLogger
  readonly #leaseMs: number
  readonly #instanceId: string
  readonly #instance: InstanceIdentity
  readonly #suspects: () => string[]
  #renewal: NodeJS.Timeout | null = null
  #renewing = false
  // Makes each claim's token unique within this process; the instance id makes it unique in Redis.
  #claims = 0

  /**
   * @param instance this instance's `fastify.collab`, which the `fastify-collab:scale-out:ownership` events carry.
   * @param fence issues the fencing epochs (the store).
   * @param suspects the instances a publish found unreachable lately (see the CLAIM script).
   */
  constructor (instance: InstanceIdentity, leases: LeaseStore, fence: Fence, depose: Depose, suspects: () => string[], leaseMs: number, log: FastifyBaseLogger) {
    this.#instance = instance
    this.#instanceId = instance.instanceId
    this.#leases = leases
    this.#fence = fence
    this.#suspects = suspects
    this.#depose = depose
    this.#leaseMs = leaseMs
    this.#log = log
  }

  /** Starts renewing the leases, four times per lease period. */
  start (): void {
    this.#renewal = setInterval(this.#renew, Math.max(1, Math.floor(this.#leaseMs / 4))).unref()
  }

  /** Stops renewing. The leases still held expire, or are released as their documents unload. */
  stop (): void {
    if (this.#renewal !== null) clearInterval(this.#renewal)
    this.#renewal = null
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
   * Where `documentName` is served. Claims it when no live instance holds it; concurrent callers share one
   * claim.
   *
   * @rejects FST_COLLAB_SCALE_OUT_UNAVAILABLE when Redis cannot be reached; the fence's error (the store's
   *   FST_COLLAB_STORAGE_LOAD) when the store cannot issue an epoch.
   */
  place (documentName: string): Promise<Placement> {
    const phase = this.#documents.get(documentName)
    if (phase?.name === 'owned') {
      if (performance.now() < phase.tenure.validUntil) return Promise.resolve({ here: true, epoch: phase.epoch, tenure: phase.tenure })
      this.lose(documentName, phase.epoch, `no lease renewal confirmed for ${this.#leaseMs} ms`)
    } else if (phase?.name === 'claiming') {
      return phase.placed
    }
    // A lost document is still stepping down: nothing new may attach to it, and the next owner is
    // whoever claims now (maybe this instance again, under a new epoch).
    let resolve!: (placement: Promise<Placement>) => void
    const placed = new Promise<Placement>((_resolve) => { resolve = _resolve })
    const claiming: Phase & { name: 'claiming' } = { name: 'claiming', placed, token: null, tenure: null }
    this.#documents.set(documentName, claiming)
    resolve(this.#claim(documentName, claiming))
    return placed
  }

  async #claim (documentName: string, claiming: Phase & { name: 'claiming' }): Promise<Placement> {
    const token = String(++this.#claims)
    // Redis counts the lease from when it runs CLAIM, after this: the tenure ends no later than the lease.
    const sent = performance.now()
    let claim
    try {
      claim = await this.#leases.claim(documentName, token, this.#suspects())
    } catch (cause) {
      this.#end(documentName, claiming)
      throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause })
    }
    if (claim.owner !== this.#instanceId) {
      this.#end(documentName, claiming)
      return { here: false, owner: claim.owner }
    }
    // Renewed from now on like an owned lease, while the store issues the epoch.
    const tenure: HeldTenure = { validUntil: sent + this.#leaseMs }
    claiming.token = token
    claiming.tenure = tenure
    let epoch
    try {
      epoch = await this.#fence.claim(documentName)
    } catch (error) {
      this.#end(documentName, claiming)
      this.#release(documentName, token)
      throw error
    }
    if (this.#documents.get(documentName) !== claiming || performance.now() >= tenure.validUntil) {
      // The lease lapsed while the store answered (a stalled loop, a slow store): claim again later.
      this.#end(documentName, claiming)
      this.#release(documentName, token)
      throw new FST_COLLAB_SCALE_OUT_UNAVAILABLE(documentName, { cause: new Error('the lease lapsed while the store issued the epoch') })
    }
    this.#documents.set(documentName, { name: 'owned', epoch, token, tenure })
    this.#publish(documentName, epoch, 'claimed')
    return { here: true, epoch, tenure }
  }

  // claiming → (none), unless another phase replaced it meanwhile.
  #end (documentName: string, phase: Phase): void {
    if (this.#documents.get(documentName) === phase) this.#documents.delete(documentName)
  }

  #release (documentName: string, token: string): void {
    this.#leases.release(documentName, token).catch((err: Error) => {
      // The lease expires by itself; nothing is lost.
      this.#log.debug({ err, documentName }, 'scale-out: could not release a lease')
    })
  }

  /**
   * The document loaded under `epoch` unloaded here (normally, or after stepping down): give its lease back
   * if that claim still holds it.
   */
  unloaded (documentName: string, epoch: number): void {
    const phase = this.#documents.get(documentName)
    if ((phase?.name !== 'owned' && phase?.name !== 'lost') || phase.epoch !== epoch) return
    this.#documents.delete(documentName)
    if (phase.name === 'owned') this.#publish(documentName, epoch, 'released')
    this.#release(documentName, phase.token)
  }

  /** owned (under `epoch`) → lost: the document steps down, without storing, and its clients resync. */
  lose (documentName: string, epoch: number, reason: string): void {
    const phase = this.#documents.get(documentName)
    if (phase?.name !== 'owned' || phase.epoch !== epoch) return
    this.#documents.set(documentName, { name: 'lost', epoch, token: phase.token })
    this.#publish(documentName, epoch, 'lost', reason)
    this.#log.warn({ documentName, epoch }, `scale-out: stepping down: ${reason}`)
    this.#depose(documentName, epoch, reason)
  }

  readonly #renew = (): void => {
    const now = performance.now()
    const leases: Array<[string, string]> = []
    const held: HeldTenure[] = []
    for (const [name, phase] of [...this.#documents]) {
      if (phase.name === 'lost' || phase.tenure === null || phase.token === null) continue
      // A tenure that passed (the renewals failed, or the loop stalled past it): another may own it now.
      if (phase.name === 'owned' && now >= phase.tenure.validUntil) {
        this.lose(name, phase.epoch, `no lease renewal confirmed for ${this.#leaseMs} ms`)
        continue
      }
      leases.push([name, phase.token])
      held.push(phase.tenure)
    }
    if (leases.length === 0 || this.#renewing) return
    this.#renewing = true
    const sent = performance.now()
    this.#leases.renew(leases).then((lost) => {
      const gone = new Set(lost)
      leases.forEach(([name], i) => {
        if (!gone.has(name)) {
          held[i].validUntil = sent + this.#leaseMs
          return
        }
        const phase = this.#documents.get(name)
        // A claim whose lease went before the store answered fails when it does (its tenure is not renewed).
        if (phase?.name === 'owned' && phase.tenure === held[i]) this.lose(name, phase.epoch, 'its lease lapsed or another instance holds it')
      })
    }, (err: Error) => {
      // Redis cannot be reached: the tenures are not renewed, and pass by themselves.
      this.#log.debug({ err }, 'scale-out: could not renew the leases')
    }).finally(() => { this.#renewing = false })
  }
}
