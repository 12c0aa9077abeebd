// The Update frames a document receives from its synced sessions during one
// event-loop turn, applied together at its end (see LoadedDocument.applyTurn).
// Yjs's work per transaction (three state vectors, each over every client
// that ever wrote to the document, and the encoded update) is then paid once
// per turn instead of once per frame: with N writers on one document that is
// the difference between O(N) and O(N²) per turn.
import type { Attachment } from './types.js'

/** Answers one SyncStep2 or Update frame: whether it was applied, known now or once its write settles. */
export type Answer = (applied: boolean | Promise<boolean>) => void

/** A session whose Update frames wait for the end of the turn. */
export interface TurnWriter extends Attachment {
  /**
   * Takes back an update the turn did not apply (it was refused, or came after a refused one of the same
   * session, or the document took none at the turn's end): the session applies it on its own and answers
   * it through `answer`, which holds its place among the session's answers.
   */
  takeBack: (update: Uint8Array, answer: Answer) => void
}

/** One Update frame waiting for the end of the turn. */
export interface QueuedUpdate {
  readonly writer: TurnWriter
  readonly update: Uint8Array
  readonly answer: Answer
}

/** The updates of one turn, in their order of arrival, until the turn's end hands them to `apply`. */
export class TurnIntake {
  private queued: QueuedUpdate[] = []

  constructor (
    private readonly apply: (queued: QueuedUpdate[]) => void,
    /** Told when `apply` throws (it answers every update it can; those it could not must be reset). */
    readonly onError: (error: unknown) => void
  ) {}

  add (writer: TurnWriter, update: Uint8Array, answer: Answer): void {
    this.queued.push({ writer, update, answer })
    if (this.queued.length === 1) schedule(this)
  }

  /**
   * Applies what waits now. A session calls it before it handles any other frame (a SyncStep, awareness,
   * Stateless), which must not overtake the updates it sent before.
   */
  flush (): void {
    const queued = this.queued
    if (queued.length === 0) return
    this.queued = []
    this.apply(queued)
  }
}

// One immediate for every document: it runs after the poll phase has read every socket that was ready.
const dirty = new Set<TurnIntake>()
let scheduled = false

function schedule (intake: TurnIntake): void {
  dirty.add(intake)
  if (scheduled) return
  scheduled = true
  setImmediate(flushAll)
}

function flushAll (): void {
  scheduled = false
  const intakes = [...dirty]
  dirty.clear()
  for (const intake of intakes) {
    try {
      intake.flush()
    } catch (error) {
      // One document's failure must not starve the others.
      intake.onError(error)
    }
  }
}
