// The Update frames a document receives from its synced sessions during one
// event-loop turn, applied together at its end (see LoadedDocument.applyTurn).
// Yjs's work per transaction (three state vectors, each over every client
// that ever wrote to the document, and the encoded update) is then paid once
// per turn instead of once per frame: with N writers on one document that is
// the difference between O(N) and O(N²) per turn.
import type { Attachment } from './types.js'
import { Phase, atTurnEnd, type TurnEndTask } from './turn-end.js'

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
export class TurnIntake implements TurnEndTask {
  private queued: QueuedUpdate[] = []

  constructor (
    private readonly apply: (queued: QueuedUpdate[]) => void,
    /** Told when `apply` throws (it answers every update it can; those it could not must be reset). */
    private readonly onError: (error: unknown) => void
  ) {}

  add (writer: TurnWriter, update: Uint8Array, answer: Answer): void {
    this.queued.push({ writer, update, answer })
    if (this.queued.length === 1) atTurnEnd(Phase.Apply, this)
  }

  /**
   * Applies what waits now: at the turn's end; before a session handles a frame that must not overtake the
   * updates it sent before (a SyncStep, Stateless: see comesAfterUpdates); before a session detaches, which
   * may unload the document before the turn ends.
   */
  flush (): void {
    const queued = this.queued
    if (queued.length === 0) return
    this.queued = []
    try {
      this.apply(queued)
    } catch (error) {
      // One document's failure must not starve the others, nor fail the frame whose session flushed.
      this.onError(error)
    }
  }
}
