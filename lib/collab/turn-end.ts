// The end of an event-loop turn, shared by everything that batches a turn's work, in one immediate: the
// documents' intakes apply the turn's Update frames first (turn.ts), then their outboxes send what the
// turn changed (broadcast.ts). In one immediate, a client's SyncStatus frames and the turn's broadcast go
// out in one write: a socket corks until the end of the tick (connection.ts), and Node runs the ticks
// between two immediates. With an immediate each, a busy document's clients cost two writev calls a turn,
// which the capacity profile showed as most of the server's time (bench/README.md).

/** Work for the end of the turn; `flush` never throws (each handles its own failures). */
export interface TurnEndTask {
  flush: () => void
}

/** The phases of the end of a turn, in their order. */
export const Phase = { Apply: 0, Send: 1 } as const

const phases: Array<Set<TurnEndTask>> = [new Set(), new Set()]
let scheduled = false

/** Runs `task.flush()` once at the end of this turn, in `phase` (a task added twice runs once). */
export function atTurnEnd (phase: typeof Phase[keyof typeof Phase], task: TurnEndTask): void {
  phases[phase].add(task)
  if (scheduled) return
  scheduled = true
  setImmediate(runTurnEnd)
}

function runTurnEnd (): void {
  // A phase may add work to a later one (applied updates to send), never to an earlier one but by a
  // new event; what an earlier phase gets meanwhile waits for the next immediate.
  for (const tasks of phases) {
    while (tasks.size > 0) {
      const batch = [...tasks]
      tasks.clear()
      for (const task of batch) task.flush()
    }
  }
  scheduled = false
  if (phases.some(tasks => tasks.size > 0)) {
    scheduled = true
    setImmediate(runTurnEnd)
  }
}
