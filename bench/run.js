// `npm run bench`: every benchmark of issues 2, 3 and 4 in one run.
//
//   node bench/run.js                 the full run (about 15 minutes, store.js included)
//   node bench/run.js --quick         small sizes, one round: checks that everything works
//   node bench/run.js --only fanout,trace
//   node bench/run.js --rounds 1      every suite with one round
//   node bench/run.js --no-readme     do not rewrite the tables in bench/README.md
//   node bench/run.js --out smoke     results into bench/results/smoke.json, README untouched (a smoke run on a busy machine)
//
// This process is the load generator, pinned to core 1; each system under test
// runs in a fresh child process pinned to core 0 (lib/server-process.js).
// Results are merged into bench/results/latest.json (or quick.json) and the
// tables of bench/README.md are regenerated from that file; a suite it lacks keeps
// its section as it was (each section starts with a marker naming its suite).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { pinLoadGenerator, SERVER_CORE } from './lib/server-process.js'
import { alternate } from './lib/rounds.js'
import { measureUpgrade, systems as upgradeSystems, measurePlain, plainSystems, measureMessages, messageSystems } from './upgrade.js'
import { fanout, manyDocuments, idleMemory, traceReplay, misbehaving } from './collab.js'
import { cachedTraceUpdates } from './lib/updates.js'
import { capacitySearch, manyWriters } from './capacity.js'
import { joinStorm } from './joins.js'
import { bigDocument } from './lib/big-document.js'
import { renderReadme, renderTables } from './lib/report.js'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    'no-readme': { type: 'boolean', default: false },
    out: { type: 'string' }
  }
})

const everyCollab = ['ours-hp', 'ours-yws', 'hocuspocus4', 'hocuspocus3', 'y-websocket-server']
const plans = {
  full: {
    upgrade: { rounds: 5, handshakes: 2000, echoMs: 1500, idleSockets: 1000 },
    // @hocuspocus/server 3.4 and @y/websocket-server send one frame per update
    // per receiver: at 384 clients that is 14.7 million frames, minutes per
    // round, so they run at 32 and 128 clients only, and at 128 (half a
    // minute each) in two rounds. They are context, not targets.
    fanout: {
      rounds: 3,
      timeoutMs: 120000,
      sizes: { 32: everyCollab, 128: everyCollab, 384: ['ours-hp', 'ours-yws', 'hocuspocus4'] },
      fewer: { 128: { hocuspocus3: 2, 'y-websocket-server': 2 } }
    },
    // Issue 17 §6: the overheads at about 50 % server CPU: the client count is picked by a calibration
    // run of each candidate (fastify-collab alone) before the rounds. Saturated, the extra CPU cannot show.
    durability: { rounds: 5, interval: 20, calibrate: [16, 24, 32, 48, 64, 96, 128], target: 0.5, timeoutMs: 60000 },
    // Issue 11: the metrics' cost, within a few percent, needs more rounds than the rest.
    metrics: { rounds: 7, interval: 50, calibrate: [32, 48, 64, 96, 128], target: 0.5, timeoutMs: 60000 },
    many: { rounds: 3, docs: 500, timeoutMs: 120000, systems: everyCollab },
    idle: { rounds: 3, connections: 1000, perDocument: 100, warmup: 1000, timeoutMs: 120000, systems: everyCollab },
    // Issue 17 §3: 10,000 idle connections on 1,000 documents in one process (the load generator holds
    // 10,000 sockets: `ulimit -n` must allow them).
    idle10k: { rounds: 3, connections: 10000, perDocument: 10, connectInFlight: 64, timeoutMs: 300000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    // The anchors take 15–45 s per replay; the target is against the limit.
    trace: { rounds: 3, trace: 'automerge-paper', timeoutMs: 180000, systems: ['limit', ...everyCollab], fewer: { hocuspocus4: 1, hocuspocus3: 1, 'y-websocket-server': 1 } },
    store: {},
    scaleout: {},
    // Issue 7: 100 clients on one document, one of them slow or abusive, beside a run without it.
    // The anchors buffer an answer per SyncStep1: 1000 of a 1 MiB document is about 1 GiB of RSS each.
    misbehaving: { rounds: 3, n: 100, count: 100, seedBytes: 1 << 20, abuseFrames: 1000, timeoutMs: 120000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    // Issue 17 §1: the largest n on one document within 1.1 × the floor (and with p99 ≤ 100 ms), by search;
    // each size measured `repeats` times, a pass needing most of them.
    capacity: { repeats: 3, count: 100, interval: 20, slack: 1.1, p99Ms: 100, resolution: 1.1, giveUp: 3, timeoutMs: 180000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    // Issue 17 §1: 1,000 writers, 20 updates each (floor 0.4 s); Hocuspocus 4.7 once, stopped after 60 s.
    writers: { rounds: 3, n: 1000, count: 20, interval: 20, timeoutMs: 300000, giveUpMs: 60000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4'], fewer: { hocuspocus4: 1 } },
    // Issue 17 §2: 150 clients join a 20 MiB document at once, cold (the storm loads it) and warm;
    // a storm still unsynced after 60 s is stopped. @y/websocket-server once, for context.
    joins: { rounds: 3, clients: 150, seedBytes: 20 * 1024 * 1024, giveUpMs: 60000, timeoutMs: 120000, modes: ['cold', 'warm'], systems: ['ours-hp', 'ours-sqlite', 'hocuspocus4', 'y-websocket-server'], fewer: { 'y-websocket-server': 1 } },
    // Issue 17 §6: against the no-op plugin control, in enough rounds that the control's spread is below
    // the effect sought (a few percent).
    plain: { rounds: 11, seconds: 5 },
    messages: { rounds: 5, echoMs: 1500 }
  },
  quick: {
    upgrade: { rounds: 1, handshakes: 300, echoMs: 300, idleSockets: 200 },
    fanout: { rounds: 1, timeoutMs: 60000, sizes: { 32: everyCollab } },
    durability: { rounds: 1, interval: 20, calibrate: [16, 32], target: 0.5, timeoutMs: 30000 },
    metrics: { rounds: 1, interval: 50, calibrate: [16, 32], target: 0.5, timeoutMs: 30000 },
    many: { rounds: 1, docs: 50, timeoutMs: 30000, systems: everyCollab },
    idle: { rounds: 1, connections: 200, perDocument: 50, warmup: 200, timeoutMs: 30000, systems: everyCollab },
    idle10k: { rounds: 1, connections: 2000, perDocument: 10, connectInFlight: 64, timeoutMs: 120000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    trace: { rounds: 1, trace: 'sveltecomponent', timeoutMs: 60000, systems: ['limit', ...everyCollab] },
    store: {},
    scaleout: {},
    misbehaving: { rounds: 1, n: 20, count: 50, seedBytes: 1 << 16, abuseFrames: 500, timeoutMs: 60000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    capacity: { repeats: 1, count: 50, interval: 20, slack: 1.1, p99Ms: 100, resolution: 1.5, giveUp: 3, timeoutMs: 60000, max: 256, systems: ['ours-hp', 'ours-yws', 'hocuspocus4', 'y-websocket-server'] },
    writers: { rounds: 1, n: 200, count: 20, interval: 20, timeoutMs: 60000, giveUpMs: 20000, systems: ['ours-hp', 'ours-yws', 'hocuspocus4'] },
    joins: { rounds: 1, clients: 30, seedBytes: 2 * 1024 * 1024, giveUpMs: 30000, timeoutMs: 60000, modes: ['cold', 'warm'], systems: ['ours-hp', 'ours-sqlite', 'hocuspocus4', 'y-websocket-server'] },
    plain: { rounds: 1, seconds: 1 },
    messages: { rounds: 1, echoMs: 300 }
  }
}
// bench/store.js takes minutes: a quick run leaves it out unless named.
const quickDefault = ['upgrade', 'fanout', 'durability', 'metrics', 'many', 'idle', 'trace', 'misbehaving', 'plain', 'messages']
const plan = args.quick ? plans.quick : plans.full
if (args.rounds !== undefined) {
  for (const suite of Object.values(plan)) {
    if ('rounds' in suite) suite.rounds = Number(args.rounds)
    if ('repeats' in suite) suite.repeats = Number(args.rounds)
  }
}
const only = args.only?.split(',') ?? (args.quick ? quickDefault : Object.keys(plan))

const logLines = []
function log (line) {
  const stamped = `[${new Date().toISOString().slice(11, 19)}] ${line}`
  logLines.push(stamped)
  process.stderr.write(stamped + '\n')
}

/** The plain Y.applyUpdate rate, in a fresh process on the server's core. */
function applyLimit (trace) {
  const out = execFileSync('taskset', ['-c', SERVER_CORE, process.execPath, here('./apply-limit.js'), trace], { encoding: 'utf8' })
  return JSON.parse(out)
}

/**
 * The client count of the fan-out (one update per `interval` ms each) that puts fastify-collab's server
 * nearest `target` CPU share: one run per candidate, in order, stopping past the target by half again.
 */
async function calibrate ({ calibrate: candidates, target, interval, timeoutMs }) {
  const runs = []
  for (const n of candidates) {
    const m = await fanout('ours-hp', { n, interval, timeoutMs })
    runs.push({ n, serverShare: m.serverShare })
    log(`calibration · ${n} clients, one update per ${interval} ms: server CPU ${(m.serverShare * 100).toFixed(0)} %`)
    if (m.serverShare > target * 1.5) break
  }
  const best = runs.reduce((a, b) => Math.abs(b.serverShare - target) < Math.abs(a.serverShare - target) ? b : a)
  return { n: best.n, target, runs }
}

/** bench/store.js belongs to the storage work; it prints a markdown table. */
function storeBenchmark () {
  const script = here('./store.js')
  if (!existsSync(script)) throw new Error('bench/store.js does not exist yet')
  const t0 = performance.now()
  const markdown = execFileSync('taskset', ['-c', SERVER_CORE, process.execPath, script], { encoding: 'utf8', maxBuffer: 1 << 24 })
  return { markdown: markdown.trim(), seconds: (performance.now() - t0) / 1000 }
}

/** bench/scale-out.js starts its own Redis and servers (pinned as the others are); it prints markdown tables. */
function scaleOutBenchmark (quick) {
  const t0 = performance.now()
  const markdown = execFileSync(process.execPath, [here('./scale-out.js'), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] })
  return { markdown: markdown.trim(), seconds: (performance.now() - t0) / 1000 }
}

const suites = {
  scaleout: async () => {
    try {
      const result = scaleOutBenchmark(args.quick)
      log(`scale-out.js done in ${result.seconds.toFixed(0)} s`)
      return result
    } catch (error) {
      log(`scale-out.js FAILED ${error.message}`)
      return { error: error.message }
    }
  },
  upgrade: (p) => alternate('upgrade', upgradeSystems.map((s) => s.id), p.rounds, (id) => measureUpgrade(id, p), log),
  fanout: async (p) => {
    const bySize = {}
    for (const [n, ids] of Object.entries(p.sizes)) {
      bySize[n] = await alternate(`fan-out ${n}`, ids, p.rounds, (id) => fanout(id, { n: Number(n), timeoutMs: p.timeoutMs }), log, p.fewer?.[n])
    }
    return bySize
  },
  durability: async (p) => {
    const calibration = await calibrate(p)
    const measured = await alternate(`durability ${calibration.n}`, ['ours-hp', 'ours-sqlite'], p.rounds, (id) => fanout(id, { n: calibration.n, interval: p.interval, timeoutMs: p.timeoutMs }), log)
    return { ...measured, calibration }
  },
  metrics: async (p) => {
    const calibration = await calibrate(p)
    const measured = await alternate(`metrics ${calibration.n}`, ['ours-hp', 'ours-metrics'], p.rounds, (id) => fanout(id, { n: calibration.n, interval: p.interval, timeoutMs: p.timeoutMs }), log)
    return { ...measured, calibration }
  },
  many: (p) => alternate(`${p.docs} docs × 2`, p.systems, p.rounds, (id) => manyDocuments(id, p), log),
  idle: (p) => alternate('idle memory', p.systems, p.rounds, (id) => idleMemory(id, p), log),
  idle10k: (p) => {
    const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
    if (Number.isFinite(limit) && limit < p.connections + 1000) throw new Error(`ulimit -n is ${limit}: ${p.connections} sockets need more (ulimit -n ${p.connections * 2})`)
    return alternate(`${p.connections} idle connections`, p.systems, p.rounds, (id) => idleMemory(id, p), log)
  },
  trace: (p) => {
    cachedTraceUpdates(p.trace) // generate the cache outside any measurement
    return alternate(`trace ${p.trace}`, p.systems, p.rounds, (id) => id === 'limit' ? applyLimit(p.trace) : traceReplay(id, p), log, p.fewer)
  },
  misbehaving: async (p) => {
    const byOffender = {}
    for (const offender of ['none', 'slow', 'abuse']) {
      byOffender[offender] = await alternate(`${p.n} clients, offender ${offender}`, p.systems, p.rounds,
        (id) => misbehaving(id, { ...p, offender: offender === 'none' ? null : offender }), log)
    }
    return byOffender
  },
  capacity: (p) => capacitySearch(p, log),
  joins: async (p) => {
    bigDocument(p.seedBytes) // built (and cached) outside any measurement
    const byMode = {}
    for (const mode of p.modes) {
      byMode[mode] = await alternate(`join storm ${p.clients} ${mode}`, p.systems, p.rounds, (id) => joinStorm(id, { ...p, warm: mode === 'warm' }), log, p.fewer)
    }
    return byMode
  },
  writers: (p) => alternate(`${p.n} writers × ${p.count}`, p.systems, p.rounds, (id) => manyWriters(id, p), log, p.fewer),
  plain: (p) => alternate('plain routes', plainSystems.map((s) => s.id), p.rounds, (id) => measurePlain(id, p), log),
  messages: (p) => alternate('messages', messageSystems.map((s) => s.id), p.rounds, (id) => measureMessages(id, p), log),
  store: async () => {
    try {
      const result = storeBenchmark()
      log(`store.js done in ${result.seconds.toFixed(0)} s`)
      return result
    } catch (error) {
      log(`store.js FAILED ${error.message}`)
      return { error: error.message }
    }
  }
}

pinLoadGenerator()
const resultsDir = here('./results/')
mkdirSync(resultsDir, { recursive: true })
const file = resultsDir + (args.out !== undefined ? `${args.out}.json` : args.quick ? 'quick.json' : 'latest.json')
const results = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
for (const name of only) {
  if (!(name in suites)) throw new Error(`unknown suite ${name}; known: ${Object.keys(suites).join(', ')}`)
  const t0 = performance.now()
  log(`suite ${name}: start`)
  const loadBefore = loadavg()[0]
  results[name] = {
    date: new Date().toISOString(),
    node: process.version,
    loadBefore,
    plan: plan[name],
    results: await suites[name](plan[name]),
    seconds: (performance.now() - t0) / 1000,
    // The 1-minute load average; above the ~2 this run adds, other work shared the cores.
    loadAfter: loadavg()[0]
  }
  writeFileSync(file, JSON.stringify(results, null, 1) + '\n')
  log(`suite ${name}: done in ${results[name].seconds.toFixed(0)} s`)
}
process.stdout.write(renderTables(results) + '\n')
if (!args.quick && !args['no-readme'] && args.out === undefined) {
  const readme = here('./README.md')
  writeFileSync(readme, renderReadme(readFileSync(readme, 'utf8'), results))
  log('bench/README.md tables regenerated')
}
