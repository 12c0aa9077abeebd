// CPU time of other processes, from /proc/<pid>/stat, summed per group of
// processes that come and go (a killed instance, its replacement, a restarted
// PostgreSQL): sample() adds what each live process used since it was last seen.
// A process that ends between two samples loses what it used after the last.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

/** { ppid, start (a process's identity with its pid: pids are reused), seconds (user + system) } of a live process, or null once it is gone. */
function stat (pid) {
  try {
    // The command name, in parentheses, may hold spaces: the fields after it are split.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return { ppid: Number(fields[1]), start: fields[19], seconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond }
  } catch {
    return null
  }
}

/** The live processes whose parent is `pid` (PostgreSQL's backends and workers under the postmaster). */
export function childrenOf (pid) {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && stat(entry)?.ppid === pid).map(Number)
}

/** CPU-seconds per group, of the processes `pids()` names at each sample. */
export class ProcessCpu {
  /** @type {Record<string, number>} */
  seconds = {}
  #seen = new Map()

  /** @param {() => Record<string, number[]>} pids the process ids of each group, now */
  constructor (pids) {
    this.pids = pids
  }

  sample () {
    for (const [group, pids] of Object.entries(this.pids())) {
      this.seconds[group] ??= 0
      for (const pid of pids) {
        const now = stat(pid)
        if (now === null) continue
        const key = `${pid}@${now.start}`
        // A process seen for the first time counts from its start: every group here is started by the bench.
        this.seconds[group] += now.seconds - (this.#seen.get(key) ?? 0)
        this.#seen.set(key, now.seconds)
      }
    }
  }
}
