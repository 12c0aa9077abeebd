/** A session whose change was refused while the store was behind, to be asked for it again. */
export interface Resyncable {
  resync: () => void
}

/**
 * The bytes of applied updates whose onChange chain has not settled, over the
 * whole collab instance: the durable store's backlog while it is down
 * (`maxUnstoredBytes`). While it is past its bound, changes are refused
 * before they are applied; the sessions refused meanwhile are told when it
 * is back under, so that they send their changes again.
 */
export class Backlog {
  private unstored = 0
  private readonly waiting = new Set<Resyncable>()

  constructor (private readonly max: number) {}

  /**
   * Past the bound, with `pending` bytes of a transaction still under way counted too: the next change is
   * refused. The change that crosses it was accepted.
   */
  isPast (pending: number): boolean {
    return this.unstored + pending > this.max
  }

  /** The bytes of applied updates whose onChange chain has not settled. */
  get bytes (): number {
    return this.unstored
  }

  /** Counts `bytes` until `chain` settles. */
  track (bytes: number, chain: Promise<void>): void {
    this.unstored += bytes
    const settle = (): void => this.release(bytes)
    chain.then(settle, settle)
  }

  /** Remembers a refused session until the backlog is back under the bound. */
  wait (session: Resyncable): void {
    this.waiting.add(session)
  }

  /** Forgets a session that left. */
  forget (session: Resyncable): void {
    this.waiting.delete(session)
  }

  private release (bytes: number): void {
    this.unstored -= bytes
    if (this.isPast(0) || this.waiting.size === 0) return
    const sessions = [...this.waiting]
    this.waiting.clear()
    for (const session of sessions) session.resync()
  }
}
