// Busy share of each core between two readings of /proc/stat, counting
// interrupt and softirq time (loopback TCP is processed there), to tell a
// saturated load generator from a saturated server.
import { readFileSync } from 'node:fs'

export function readCores () {
  const cores = {}
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line)
    if (match === null) continue
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number)
    cores[match[1]] = { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
  }
  return cores
}

/** { core: busy fraction 0..1 } since `before`. */
export function busySince (before) {
  const now = readCores()
  const result = {}
  for (const core of Object.keys(now)) {
    const total = now[core].total - before[core].total
    result[core] = total > 0 ? (now[core].busy - before[core].busy) / total : NaN
  }
  return result
}
