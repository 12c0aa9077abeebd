// Chaos (issue 15, "How to prove it"): three instances with Redis and a durable
// store, 60 Hocuspocus writers over 10 documents (2 per instance and document)
// and a y-websocket watcher per instance and document, and a seeded random
// fault every 20–40 s, each followed by its recovery. It runs on the harness of
// the fault tests (test/helpers/faults.js): every edit counts as acknowledged
// only once a SyncStatus answered the frame that carried it, the store is
// audited throughout (every edit acknowledged before a read began must be in
// it), and at the end every process is killed and the store read as a fresh
// process would.
//
//   node bench/chaos.js                                  20 minutes, PostgreSQL, seed 20261215
//   node bench/chaos.js --minutes 2 --store sqlite --seed 7
//   node bench/chaos.js --timings default                the plugin's default lease and heartbeat (the
//                                                        default is the fault tests' shorter ones: lease 2 s,
//                                                        heartbeat every 100 ms, timeout 1 s)
//
// It prints a line per fault as it recovers (how long the recovery took, and
// until every writer was acknowledged again), then, per fault kind, the edits
// acknowledged in its windows (from the fault to the next one), the closes its
// clients saw, the clients moved off a killed instance, the sessions the
// instances reset (their logs), and the longest time a document accepted no
// write and a writer had nothing acknowledged, and the writers that stalled (no
// edit acknowledged within a minute of the recovery: named in the failures, not
// waited for again, the run goes on); then acknowledged, stored and lost
// (target 0) in all, and the CPU each part used. The instances' logs and the
// report go to bench/results/. Exit code 1 when an acknowledged edit is lost, a
// writer stalled, a fault's recovery failed (the faults stop there), or the
// clients do not converge at the end.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import * as prng from 'lib0/prng'
import { faultEnv, faults, startFaultRun } from '../test/helpers/faults.js'
import { waitFor } from '../test/helpers/wait.js'
import { readCores } from './lib/cores.js'
import { ProcessCpu, childrenOf } from './lib/process-cpu.js'

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '20' }, seed: { type: 'string', default: '20261215' }, store: { type: 'string', default: 'postgres' }, timings: { type: 'string', default: 'test' } } })
const minutes = Number(args.minutes)
const seed = Number(args.seed)
const store = args.store
if (store !== 'postgres' && store !== 'sqlite') throw new Error(`--store postgres or sqlite, not ${store}`)

const documents = Array.from({ length: 10 }, (_, i) => `doc-${i}`)
const typingMs = 200 // per writer: 5 edits a second, one transaction each
const auditMs = 1000
const faultGap = [20_000, 40_000]
const writingAgainMs = 60_000
const sampleMs = 2000

// The harness's test context, outside a test: cleanups run last registered first.
const cleanups = []
const context = { after: (cleanup) => cleanups.push(cleanup), diagnostic: (message) => console.log(message) }
// Every y-websocket provider adds a listener to the process's 'exit' (30 watchers here, more after moves).
process.setMaxListeners(200)
// Ctrl-C: the exit handlers of test/helpers/cleanup.js stop what is still running (PostgreSQL included).
process.once('SIGINT', () => process.exit(130))

/**
 * Each instance's process state as the kernel sees it (R running, S sleeping, T stopped…) and, when it
 * sleeps, where (wchan): a writer that stalls behind an instance that neither works nor logs shows which.
 */
function processStates (nodes) {
  return nodes.map((node, i) => {
    try {
      const stat = readFileSync(`/proc/${node.child.pid}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
      return `${i}: ${state} ${readFileSync(`/proc/${node.child.pid}/wchan`, 'utf8')}${node.alive ? '' : ' (ended)'}`
    } catch {
      return `${i}: gone (${howEnded(node)})`
    }
  }).join(', ')
}

/** How an instance's process ended: its signal, or its exit code. */
const howEnded = (node) => node.child.signalCode ?? `exit code ${node.child.exitCode}`

/** An instance's last log line: its time and message (the first 200 characters). */
function lastLine (node) {
  const last = node.logs.at(-1)
  if (last === undefined) return '(none)'
  const time = last.time === undefined ? '' : `${new Date(last.time).toISOString().slice(11, 23)} `
  return `${time}${String(last.msg).slice(0, 200)}`
}

const clock = (time) => {
  const seconds = Math.round((time - t0) / 1000)
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`
}
const s = (ms) => (ms / 1000).toFixed(1)

/**
 * A fault's window runs from its injection to the next one (the first, 'none', from the start of typing).
 * @type {Array<{ kind: string, start: number, end: number, acked: number, closes: number, moved: number,
 *   resets: number, resetAll: number, documentGap: number, writerGap: number, recovered: number, writingAgain: number, stalled: number }>}
 *   (with documentGapAt and writerGapAt, the start of the longest gaps)
 */
const windows = []
function openWindow (kind, start) {
  const previous = windows.at(-1)
  if (previous !== undefined) previous.end = start
  const window = { kind, start, end: Infinity, acked: 0, closes: 0, moved: 0, resets: 0, resetAll: 0, documentGap: 0, writerGap: 0, recovered: 0, writingAgain: 0, stalled: 0 }
  windows.push(window)
  return window
}
const windowAt = (time) => windows.findLast((window) => window.start <= time) ?? windows[0]

/** A time without acknowledged writes, from `from` to `to`, goes to the window it overlaps most. */
function gap (from, to, field) {
  if (to <= from) return
  let most = null
  let overlap = 0
  for (let i = windows.length - 1; i >= 0 && windows[i].end > from; i--) {
    const window = windows[i]
    const here = Math.min(to, window.end) - Math.max(from, window.start)
    if (most === null || here > overlap) [most, overlap] = [window, here]
  }
  if (to - from > most[field]) Object.assign(most, { [field]: to - from, [`${field}At`]: from })
}

console.log(`chaos: seed ${seed} (--seed), ${minutes} min, ${store}, 3 instances, ${documents.length} documents × 6 writers (one edit per ${typingMs} ms each) + 3 watchers; a fault every ${faultGap[0] / 1000}–${faultGap[1] / 1000} s`)
/** What went wrong, each with its time in the run: the run goes on after a stalled writer, not after a failed recovery. */
const failures = []
let t0 = Date.now()
let run = null
const report = {}
try {
  run = await startFaultRun(context, { store, documents, typists: 2, watchers: 1, env: args.timings === 'default' ? {} : faultEnv })
  const admin = await run.cluster.redis.client(context)
  const kinds = Object.keys(faults).filter((kind) => store === 'postgres' || kind !== 'postgres-restart')
  const random = prng.create(seed)

  // Acknowledged writes, per document and per writer, and the closes clients saw (not those they made).
  const lastByDocument = new Map()
  const lastByWriter = new Map()
  for (const typist of run.typists) {
    typist.ledger.on('acked', (fresh) => {
      if (windows.at(-1).end !== Infinity) return // typing stopped: what is still answered is not counted
      const now = Date.now()
      windows.at(-1).acked += fresh
      gap(lastByDocument.get(typist.documentName), now, 'documentGap')
      gap(lastByWriter.get(typist), now, 'writerGap')
      lastByDocument.set(typist.documentName, now)
      lastByWriter.set(typist, now)
    })
  }
  const watchCloses = (client) => {
    const count = () => { windows.at(-1).closes++ }
    if ('ledger' in client) client.provider.on('close', count)
    else client.provider.on('connection-close', () => { if (client.provider.shouldConnect) count() })
  }
  for (const client of [...run.typists, ...run.watchers]) watchCloses(client)
  run.on('moved', (client) => {
    windows.at(-1).moved++
    watchCloses(client)
  })

  const cpu = new ProcessCpu(() => {
    const postgres = run.cluster.postgres?.pid ?? null
    return {
      instances: run.nodes.map((node) => node.child.pid),
      redis: run.cluster.redis.child === null ? [] : [run.cluster.redis.child.pid],
      postgres: postgres === null ? [] : [postgres, ...childrenOf(postgres)]
    }
  })
  const loads = []
  // Every time here is read on this process's clock: a late event loop stretches the gaps it measures.
  const lag = monitorEventLoopDelay({ resolution: 20 })
  // Every instance that ends, as it is noticed: the kill faults' own, and any other (a stalled run once
  // lost an instance without a log line).
  const ended = new Set()
  const sampler = setInterval(() => {
    cpu.sample()
    loads.push(loadavg()[0])
    run.nodes.forEach((node, i) => {
      if (node.alive || ended.has(node)) return
      ended.add(node)
      const window = windows.at(-1)
      const when = window.end === Infinity ? `in the ${window.kind} window` : 'after typing stopped'
      console.log(`${clock(Date.now())} instance ${i} ended (${howEnded(node)}) ${when}; its last line: ${lastLine(node)}`)
    })
  }, sampleMs)
  context.after(() => clearInterval(sampler))
  cpu.sample()
  const cpuBefore = { ...cpu.seconds, generator: process.cpuUsage(), cores: readCores() }

  t0 = Date.now()
  const deadline = t0 + minutes * 60_000
  openWindow('none', t0)
  for (const documentName of documents) lastByDocument.set(documentName, t0)
  for (const typist of run.typists) lastByWriter.set(typist, t0)
  run.startTyping(typingMs)
  run.startAudits(auditMs)
  lag.enable()
  const progress = setInterval(() => {
    const acked = run.typists.reduce((sum, typist) => sum + typist.ledger.acked.size, 0)
    console.log(`${clock(Date.now())} ${acked} acknowledged, ${run.audits} audits, ${run.violations.length} violations, load ${loadavg()[0].toFixed(1)}`)
  }, 60_000)
  context.after(() => clearInterval(progress))

  /** @type {Map<object, number>} writers not acknowledged again within writingAgainMs of a recovery, with their count of acknowledged edits then */
  const stalled = new Map()
  let next = t0 + prng.int32(random, ...faultGap)
  while (next < deadline) {
    const kind = prng.oneOf(random, kinds)
    const gapAfter = prng.int32(random, ...faultGap)
    await delay(next - Date.now())
    const started = Date.now()
    const window = openWindow(kind, started)
    try {
      await faults[kind](run, admin)
    } catch (error) {
      failures.push(`${kind} at ${clock(started)}: its recovery failed: ${error.message}`)
      break
    }
    window.recovered = Date.now() - started
    run.startTyping(typingMs) // again: on SQLite, owner-pause stops it to quiesce
    // A writer stalled after an earlier fault is not waited for again (it would hold up the schedule by a
    // minute each time), and counts as stalled until it has an edit acknowledged.
    for (const [typist, acked] of stalled) if (typist.ledger.acked.size > acked) stalled.delete(typist)
    const typists = run.typists.filter((typist) => !stalled.has(typist))
    const before = new Map(typists.map((typist) => [typist, typist.ledger.acked.size]))
    try {
      await run.acknowledgedMore(1, { timeout: writingAgainMs, what: `every writer to be acknowledged again after ${kind}`, typists })
      window.writingAgain = Date.now() - started
      console.log(`${clock(started)} ${kind}: recovered in ${s(window.recovered)} s, every writer acknowledged again after ${s(window.writingAgain)} s`)
    } catch (error) {
      const behind = typists.filter((typist) => typist.ledger.acked.size === before.get(typist))
      for (const typist of behind) stalled.set(typist, typist.ledger.acked.size)
      window.stalled = behind.length
      failures.push(`${kind} at ${clock(started)}: ${error.message}`)
      console.log(`${clock(started)} ${kind}: recovered in ${s(window.recovered)} s; STALLED: ${behind.length} writers not acknowledged again within ${writingAgainMs / 1000} s; instances: ${processStates(run.nodes)}`)
    }
    next = Math.max(started + gapAfter, Date.now())
  }
  await delay(deadline - Date.now())
  if (stalled.size > 0) failures.push(`${stalled.size} writers still stalled when typing stopped: ${[...stalled.keys()].map((typist) => typist.name).join(', ')}`)

  const stopped = Date.now()
  run.stopTyping()
  lag.disable()
  clearInterval(progress)
  windows.at(-1).end = stopped
  for (const last of lastByDocument.values()) gap(last, stopped, 'documentGap')
  for (const last of lastByWriter.values()) gap(last, stopped, 'writerGap')
  cpu.sample()
  const generator = process.cpuUsage(cpuBefore.generator)
  const cores = readCores()
  const wall = (stopped - t0) / 1000
  const used = (group) => (cpu.seconds[group] - cpuBefore[group]) / wall
  const machine = Object.keys(cores).reduce((sum, core) => {
    const busy = cores[core].busy - cpuBefore.cores[core].busy
    const total = cores[core].total - cpuBefore.cores[core].total
    return sum + busy / total
  }, 0)
  const load = {
    instances: used('instances'),
    postgres: used('postgres'),
    redis: used('redis'),
    generator: (generator.user + generator.system) / 1e6 / wall
  }
  load.rest = machine - load.instances - load.postgres - load.redis - load.generator
  load.lag = { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 }

  // Polled, not checked on every update as the tests do: each check sorts every client's copy of its
  // document, tens of thousands of items after a long run, and the backlog brings thousands of updates.
  const converged = await waitFor(() => run.converged(), { timeout: 60_000, interval: 2000, what: 'every client of each document to converge' })
    .then(() => true, (error) => {
      failures.push(error.message)
      return false
    })
  const convergedIn = Date.now() - stopped

  const killed = Date.now()
  const result = await run.killAll()
  let stored = 0
  for (const documentName of documents) stored += (await run.reader.read(documentName)).items.size
  console.log(`${clock(stopped)} typing stopped; every client converged ${s(convergedIn)} s later; every process killed and the store read in ${s(Date.now() - killed)} s`)
  for (const node of run.nodes) {
    for (const line of node.logs) {
      if (line.msg?.includes('scale-out: resetting sessions')) windowAt(line.time).resets += line.proxied + line.served
      else if (line.msg?.includes('scale-out: resetting every cross-instance session')) windowAt(line.time).resetAll++
    }
  }
  const lostAtAudits = new Set(result.violations.flatMap((violation) => violation.missing))
  const lostAtEnd = new Set(result.missing.flatMap((entry) => entry.missing))
  const lost = new Set([...lostAtAudits, ...lostAtEnd])
  if (lost.size > 0) failures.push(`${lost.size} acknowledged edits lost`)
  if (result.pending.length > 0) failures.push(`the stored log leaves pending structs in ${result.pending.join(', ')}`)

  // One row per fault kind, its windows added up (maxima for the times).
  const rows = new Map()
  for (const window of windows) {
    const row = rows.get(window.kind) ?? { count: 0, acked: 0, closes: 0, moved: 0, resets: 0, resetAll: 0, documentGap: 0, writerGap: 0, stalled: 0 }
    row.count++
    for (const field of ['acked', 'closes', 'moved', 'resets', 'resetAll', 'stalled']) row[field] += window[field]
    for (const field of ['documentGap', 'writerGap']) row[field] = Math.max(row[field], window[field])
    rows.set(window.kind, row)
  }
  const table = [
    '| fault | count | acknowledged in its windows | closes clients saw | clients moved | sessions reset (instances\' logs) | longest a document accepted no write, s | longest a writer had nothing acknowledged, s | writers stalled (nothing acknowledged within 60 s of the recovery) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows].map(([kind, row]) => `| ${kind === 'none' ? 'none (before the first fault)' : kind} | ${row.count} | ${row.acked.toLocaleString('en')} | ${row.closes} | ${row.moved} | ${row.resets}${row.resetAll > 0 ? ` + ${row.resetAll} × all` : ''} | ${s(row.documentGap)} | ${s(row.writerGap)} | ${kind === 'none' ? '—' : row.stalled} |`)
  ]
  const loadAverages = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (mean ${(loads.reduce((sum, value) => sum + value, 0) / loads.length).toFixed(1)})`
  const summary = [
    `seed ${seed}, ${store}, ${args.timings} timings, ${s(stopped - t0)} s of typing, ${windows.length - 1} faults; Node ${process.version}, ${new Date(t0).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `acknowledged ${result.acked.toLocaleString('en')} of ${result.typed.toLocaleString('en')} edits typed by the writers; stored ${stored.toLocaleString('en')} items (every edit the store holds, the watchers' and unacknowledged ones included)`,
    `lost ${lost.size} (target 0): ${lostAtAudits.size} missing at one of ${result.audits} audits, ${lostAtEnd.size} after every process was killed`,
    `converged at the end: ${converged ? 'yes' : 'NO'}`,
    `CPU, in cores of ${cpus().length}, averaged over the typing: instances ${load.instances.toFixed(2)}, PostgreSQL ${load.postgres.toFixed(2)}, Redis ${load.redis.toFixed(2)}, load generator (this process) ${load.generator.toFixed(2)} (its event loop late by ${load.lag.p99.toFixed(0)} ms at the p99, ${load.lag.max.toFixed(0)} ms at most), rest of the machine (other work, interrupts) ${load.rest.toFixed(2)}; 1-minute load average ${loadAverages}`
  ]
  console.log(['', ...table, '', ...summary].join('\n'))
  Object.assign(report, { load, loads, lost: [...lost], violations: result.violations, missing: result.missing, pending: result.pending })
} catch (error) {
  failures.push(error.stack)
} finally {
  const dir = join('bench', 'results', `chaos-${store}-${seed}-${new Date(t0).toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(dir, { recursive: true })
  run?.nodes.forEach((node, i) => writeFileSync(join(dir, `instance-${i}-${node.instanceId}.log`), node.err.join('\n') + '\n'))
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ seed, store, minutes, failures, windows, ...report }, null, 2) + '\n')
  console.log(`logs and report: ${dir}`)
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup()
    } catch (error) {
      console.error(`a cleanup failed: ${error.message}`)
    }
  }
}
for (const failure of failures) console.error(`FAILED (seed ${seed}): ${failure}`)
process.exitCode = failures.length === 0 ? 0 : 1
