// Renders bench/results/latest.json as the markdown tables of bench/README.md,
// between the markers `<!-- results:start -->` and `<!-- results:end -->`.
import { median, fmt } from './stats.js'

const START = '<!-- results:start -->'
const END = '<!-- results:end -->'

const names = {
  raw: 'raw `ws` on `http.Server` (the limit)',
  'fastify-websocket': '@fastify/websocket 11.3.6',
  ours: '**fastify-collab** `onUpgrade` + `reply.upgrade()`',
  'ours-hp': '**fastify-collab**, Hocuspocus clients',
  'ours-yws': '**fastify-collab**, y-websocket clients',
  'ours-sqlite': '**fastify-collab** + SQLite store, Hocuspocus clients',
  'ours-metrics': '**fastify-collab** + metrics scraped every second, Hocuspocus clients',
  hocuspocus4: '@hocuspocus/server 4.7.0',
  hocuspocus3: '@hocuspocus/server 3.4.4',
  'y-websocket-server': '@y/websocket-server 0.1.1',
  limit: 'plain `Y.applyUpdate` in one process (the limit)'
}

/** The system's name, with its number of rounds when it took part in fewer than the suite's. */
function label (id, entry, rounds) {
  const n = entry?.rounds?.length ?? 0
  return n < rounds ? `${names[id] ?? id} (${n} round${n === 1 ? '' : 's'})` : names[id] ?? id
}

/** Median of `key` over a system's rounds, with the spread when there are several. */
function stat (entry, key) {
  const values = (entry?.rounds ?? []).map((r) => r[key]).filter((v) => Number.isFinite(v))
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length }
}

function cell (s, format) {
  if (s.n === 0) return '—'
  if (s.n === 1 || format(s.min) === format(s.max)) return format(s.median)
  return `${format(s.median)} <sub>${format(s.min)}–${format(s.max)}</sub>`
}

const ratio = (a, b) => a / b
const pctOf = (v) => Number.isFinite(v) ? `${(v * 100).toFixed(0)} %` : '—'
/** The server's CPU share of a round: its CPU-seconds per wall second (serverShare, or cpuSeconds ÷ seconds in older results). */
const shareOf = (e) => {
  const values = (e?.rounds ?? []).map((x) => x.serverShare ?? x.cpuSeconds / Math.max(x.seconds, Number.isFinite(x.ackSeconds) ? x.ackSeconds : 0)).filter(Number.isFinite)
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length }
}
/** A CPU share as text, marked when the server was saturated (≥ 95 %). */
const loadCell = (s) => s.n === 0 ? '—' : cell(s, pctOf) + (s.median >= 0.95 ? ' (saturated)' : '')
const verdict = (ok) => Number.isNaN(ok) ? 'not measured' : ok ? 'met' : '**missed**'
function check (value, op, bound) {
  if (!Number.isFinite(value)) return NaN
  return op === '>=' ? value >= bound : value <= bound
}

function table (header, rows) {
  if (rows.length === 0) return ''
  return [
    '| ' + header.join(' | ') + ' |',
    '| ' + header.map((_, i) => i === 0 ? '---' : '---:').join(' | ') + ' |',
    ...rows.map((row) => '| ' + row.join(' | ') + ' |')
  ].join('\n')
}

function errorsOf (results) {
  const lines = []
  for (const [id, entry] of Object.entries(results)) {
    for (const error of entry.errors ?? []) lines.push(`- ${names[id] ?? id}: ${error}`)
  }
  return lines.length === 0 ? '' : '\nFailures in this run:\n' + lines.join('\n') + '\n'
}

function load (suite) {
  if (suite.loadBefore === undefined) return ''
  return ` Load average ${suite.loadBefore.toFixed(1)} before, ${suite.loadAfter.toFixed(1)} after (this run alone adds about 2).`
}

function when (suite) {
  return `Measured ${suite.date.slice(0, 16).replace('T', ' ')} UTC, Node ${suite.node}, ${suite.plan.rounds ?? 1} alternating round(s); median, with the range of the rounds in small print.${load(suite)}`
}

function upgradeSection (suite) {
  const r = suite.results
  const m = (id, key) => stat(r[id], key).median
  const rows = ['raw', 'fastify-websocket', 'ours'].map((id) => [
    names[id],
    cell(stat(r[id], 'handshakesPerSecond'), fmt.int),
    cell(stat(r[id], 'rejectionsPerSecond'), fmt.int),
    cell(stat(r[id], 'echoesPerSecond'), fmt.int),
    cell(stat(r[id], 'handshakeCpuMicros'), fmt.int),
    cell(stat(r[id], 'rejectionCpuMicros'), fmt.int),
    cell(stat(r[id], 'echoCpuMicros'), fmt.n1),
    cell(stat(r[id], 'idleHeapBytes'), fmt.kib),
    cell(stat(r[id], 'idleRssBytes'), fmt.kib),
    ['handshake', 'rejection', 'echo'].map((op) => {
      const plural = op === 'echo' ? 'echoes' : op + 's'
      return pctOf(m(id, `${plural}PerSecond`) * m(id, `${op}CpuMicros`) / 1e6)
    }).join(' / ')
  ])
  const vs = (a, b) => ['handshakesPerSecond', 'rejectionsPerSecond', 'echoesPerSecond', 'idleHeapBytes'].map((k) => ratio(m(a, k), m(b, k)))
  const oursRaw = vs('ours', 'raw')
  const oursFws = vs('ours', 'fastify-websocket')
  const fwsRaw = vs('fastify-websocket', 'raw')
  // Issue 10 §2: rejections per server CPU-second, the cost of the path an attacker floods.
  const perCpuSecond = (a, b) => ratio(m(b, 'rejectionCpuMicros'), m(a, 'rejectionCpuMicros'))
  const targets = [
    ['handshakes ≥ 0.9 × raw `ws`', oursRaw[0], check(oursRaw[0], '>=', 0.9)],
    ['handshakes ≥ 1.0 × @fastify/websocket', oursFws[0], check(oursFws[0], '>=', 1.0)],
    ['401 rejections per server CPU-second ≥ 0.8 × raw `ws` (issue 10)', perCpuSecond('ours', 'raw'), check(perCpuSecond('ours', 'raw'), '>=', 0.8)],
    ['401 rejections per server CPU-second ≥ 1.1 × @fastify/websocket (issue 10)', perCpuSecond('ours', 'fastify-websocket'), check(perCpuSecond('ours', 'fastify-websocket'), '>=', 1.1)],
    ['401 rejections per server CPU-second ≥ 1.0 × @fastify/websocket: at least parity (issue 17)', perCpuSecond('ours', 'fastify-websocket'), check(perCpuSecond('ours', 'fastify-websocket'), '>=', 1.0)],
    ['echo ≥ 0.97 × raw `ws`', oursRaw[2], check(oursRaw[2], '>=', 0.97)],
    ['idle memory per socket ≤ 1.1 × raw `ws`', oursRaw[3], check(oursRaw[3], '<=', 1.1)]
  ]
  return `### Upgrades (issue 2)

${when(suite)} Load regime: *server CPU* is the server's CPU-seconds per wall second in the handshake / rejection / echo loops (operations/s × CPU µs per operation); where it is under 100 %, the load generator or the machine limited the rate and the CPU µs per operation are the figures to compare.

${table(['system', 'handshakes/s', '401 rejections/s', '1 KiB echoes/s', 'server CPU µs / handshake', '/ rejection', '/ echo', 'idle heap KiB / socket', 'idle RSS KiB / socket', 'server CPU: handshakes / rejections / echo'], rows)}

${table(['ratio', 'handshakes', 'rejections', 'echo', 'idle heap'], [
    ['fastify-collab ÷ raw `ws`', ...oursRaw.map(fmt.ratio)],
    ['fastify-collab ÷ @fastify/websocket', ...oursFws.map(fmt.ratio)],
    ['@fastify/websocket ÷ raw `ws` (issue: 0.88, 0.86, 0.98)', ...fwsRaw.map(fmt.ratio)]
  ])}

${table(['target', 'measured', ''], targets.map(([t, v, ok]) => [t, fmt.ratio(v), verdict(ok)]))}
${errorsOf(r)}`
}

function fanoutSection (suite, durability) {
  const parts = [`### Fan-out: one document, N clients, 100 one-character updates each, one per 20 ms (issue 3)

${when(suite)} The floor is 2.0 s. *Converged*: every client holds every other client's updates. *Acked*: every Hocuspocus client also has a SyncStatus for each of its own. Server CPU is counted from the first update to the end of both. *Late* is how far behind schedule this load generator sent its worst update. *Server CPU*: its CPU-seconds per wall second (saturated: ≥ 95 %); where a system is saturated, its CPU-seconds equal the wall time and say nothing of its cost, which is why issue 17 replaced the CPU target at 128 clients with capacity (below).
`]
  const targets = []
  for (const [n, results] of Object.entries(suite.results)) {
    const hp4 = results.hocuspocus4
    const rows = Object.keys(results).map((id) => {
      const e = results[id]
      return [
        label(id, e, suite.plan.rounds),
        cell(stat(e, 'seconds'), fmt.n2),
        fmt.ratio(ratio(stat(e, 'seconds').median, stat(hp4, 'seconds').median)),
        cell(stat(e, 'ackSeconds'), fmt.n2),
        cell(stat(e, 'cpuSeconds'), fmt.n2),
        fmt.ratio(ratio(stat(e, 'cpuSeconds').median, stat(hp4, 'cpuSeconds').median)),
        loadCell(shareOf(e)),
        cell(stat(e, 'generatorCpuSeconds'), fmt.n2),
        cell(stat(e, 'maxLateMs'), fmt.int)
      ]
    })
    parts.push(`#### ${n} clients\n\n${table(['system', 'converged s', '÷ Hocuspocus 4.7', 'acked s', 'server CPU-s', '÷ Hocuspocus 4.7', 'server CPU', 'load generator CPU-s', 'late ms'], rows)}\n${errorsOf(results)}`)
    for (const id of ['ours-hp', 'ours-yws']) {
      if (!results[id]) continue
      const who = id === 'ours-hp' ? 'Hocuspocus clients' : 'y-websocket clients'
      if (n === '384') {
        const v = ratio(stat(results[id], 'seconds').median, stat(hp4, 'seconds').median)
        targets.push([`convergence at 384 clients ≤ 0.5 × Hocuspocus 4.7 (${who})`, v, check(v, '<=', 0.5)])
      }
    }
  }
  parts.push(table(['target', 'measured', ''], targets.map(([t, v, ok]) => [t, fmt.ratio(v), verdict(ok)])))
  return parts.join('\n') + '\n'
}

/** The client count picked for about 50 % server CPU, and the calibration runs that picked it. */
function calibration (suite) {
  const c = suite.results.calibration
  if (c === undefined) return ''
  return `\nCalibration (fastify-collab alone, one run each, before the rounds): ${c.runs.map((run) => `${run.n} clients ${pctOf(run.serverShare)}`).join(', ')}; picked **${c.n}** (target ${pctOf(c.target)}).\n`
}

function metricsSection (suite) {
  const r = suite.results
  const ids = ['ours-hp', 'ours-metrics']
  const rows = ids.map((id) => [names[id], cell(stat(r[id], 'seconds'), fmt.n2), cell(stat(r[id], 'ackSeconds'), fmt.n2), cell(stat(r[id], 'cpuSeconds'), fmt.n2), loadCell(shareOf(r[id]))])
  const cpu = ratio(stat(r['ours-metrics'], 'cpuSeconds').median, stat(r['ours-hp'], 'cpuSeconds').median) - 1
  const pct = (v) => Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—'
  return `### Metrics overhead: the fan-out at ${suite.results.calibration?.n ?? suite.plan.n} clients with and without \`metrics\` (issues 11 and 17 §6)

${when(suite)} Every client types one update per ${suite.plan.interval} ms, with the number of clients picked for about 50 % server CPU (below), so that CPU can tell the two apart (saturated, CPU-seconds equal the wall time either way). The metrics run on a registry of their own, scraped every second (\`registry.metrics()\`) inside the server process.

${table(['system', 'converged s', 'acked s', 'server CPU-s', 'server CPU'], rows)}
${calibration(suite)}
${table(['target', 'measured', ''], [['extra server CPU ≤ 3 %', pct(cpu), verdict(check(cpu, '<=', 0.03))]])}
${errorsOf(r)}`
}

function durabilitySection (suite) {
  const r = suite.results
  const done = (id) => {
    const values = (r[id]?.rounds ?? []).map((x) => Math.max(x.seconds, x.ackSeconds))
    return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length }
  }
  const rows = ['ours-hp', 'ours-sqlite'].map((id) => [names[id], cell(stat(r[id], 'seconds'), fmt.n2), cell(stat(r[id], 'ackSeconds'), fmt.n2), cell(done(id), fmt.n2), cell(stat(r[id], 'cpuSeconds'), fmt.n2), loadCell(shareOf(r[id]))])
  const slowdown = ratio(done('ours-sqlite').median, done('ours-hp').median) - 1
  const cpu = ratio(stat(r['ours-sqlite'], 'cpuSeconds').median, stat(r['ours-hp'], 'cpuSeconds').median) - 1
  const pct = (v) => Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—'
  return `### Durability overhead: the fan-out at ${suite.results.calibration?.n ?? suite.plan.n} clients with and without the SQLite store (issues 4 and 17 §6)

${when(suite)} *Done* is the later of converged and acked: with the store, a SyncStatus goes out only after its update's group commit. The number of clients is picked for about 50 % server CPU without the store (below): saturated, the extra CPU would not show.

${table(['system', 'converged s', 'acked s', 'done s', 'server CPU-s', 'server CPU'], rows)}
${calibration(suite)}
${table(['target', 'measured', ''], [
    ['slowdown of the fan-out (done) ≤ 10 %', pct(slowdown), verdict(check(slowdown, '<=', 0.1))],
    ['extra server CPU (for information)', pct(cpu), '']
  ])}
${errorsOf(r)}`
}

function manySection (suite) {
  const r = suite.results
  const base = stat(r['y-websocket-server'], 'seconds').median
  const rows = Object.keys(r).map((id) => [names[id] ?? id, cell(stat(r[id], 'seconds'), fmt.n2), fmt.ratio(ratio(stat(r[id], 'seconds').median, base)), cell(stat(r[id], 'cpuSeconds'), fmt.n2), loadCell(shareOf(r[id]))])
  const targets = ['ours-hp', 'ours-yws'].filter((id) => r[id]).map((id) => {
    const v = ratio(stat(r[id], 'seconds').median, base)
    return [`${names[id]} ≤ 0.8 × @y/websocket-server`, fmt.ratio(v), verdict(check(v, '<=', 0.8))]
  })
  return `### ${suite.plan.docs} documents × 2 clients (issue 3)

${when(suite)} From the first connection until both clients of every document have synced and hold each other's first update (at most 64 handshakes in flight).

${table(['system', 'seconds', '÷ @y/websocket-server', 'server CPU-s', 'server CPU'], rows)}

${table(['target', 'measured', ''], targets)}
${errorsOf(r)}`
}

function idleSection (suite) {
  const r = suite.results
  const base = stat(r['y-websocket-server'], 'heap').median
  const baseRss = stat(r['y-websocket-server'], 'rss').median
  const rows = Object.keys(r).map((id) => [names[id] ?? id, cell(stat(r[id], 'heap'), fmt.kib), fmt.ratio(ratio(stat(r[id], 'heap').median, base)), cell(stat(r[id], 'rss'), fmt.kib), fmt.ratio(ratio(stat(r[id], 'rss').median, baseRss)), cell(stat(r[id], 'rssBeforeMiB'), fmt.int), cell(stat(r[id], 'rssTotalMiB'), fmt.int)])
  const targets = ['ours-hp', 'ours-yws'].filter((id) => r[id]).flatMap((id) => {
    const v = ratio(stat(r[id], 'heap').median, base)
    const rss = ratio(stat(r[id], 'rss').median, baseRss)
    return [
      [`${names[id]}: heap ≤ 1.0 × @y/websocket-server (issue 3)`, fmt.ratio(v), verdict(check(v, '<=', 1.0))],
      [`${names[id]}: RSS ≤ 0.8 × @y/websocket-server (issue 17)`, fmt.ratio(rss), verdict(check(rss, '<=', 0.8))]
    ]
  })
  return `### Idle memory per connection (issues 3 and 17)

${when(suite)} ${suite.plan.connections} synced connections, each with an awareness state, ${suite.plan.perDocument} per document, after ${suite.plan.warmup} others (on documents of their own) in a server whose young generation is fixed at its largest size (\`--min-semi-space-size=16 --max-semi-space-size=16\`); growth of heapUsed + external (and of RSS) between two full GCs, divided by the connections: the marginal cost of a connection. Without the warm-up and the fixed young generation, V8 doubles the young generation while the first connections come in (fastify-collab from 16 to 32 MiB, @y/websocket-server from 8 to 16 MiB), and that one-off step was a third to a half of the RSS growth at 1,000 connections. RSS growth is coarser than the heap's (pages, allocator arenas): compare its range across rounds before reading its ratio.

${table(['system', 'heap KiB / connection', '÷ @y/websocket-server', 'RSS KiB / connection', '÷ @y/websocket-server', 'RSS before any connection, MiB', 'RSS at the end, MiB'], rows)}

${table(['target', 'measured', ''], targets)}
${errorsOf(r)}`
}

function idle10kSection (suite) {
  const r = suite.results
  const p = suite.plan
  const documents = Math.ceil(p.connections / p.perDocument)
  const baseRss = stat(r['y-websocket-server'], 'rssTotalMiB').median
  const rows = Object.keys(r).map((id) => [
    names[id] ?? id,
    cell(stat(r[id], 'rssTotalMiB'), fmt.int),
    fmt.ratio(ratio(stat(r[id], 'rssTotalMiB').median, baseRss)),
    cell(stat(r[id], 'rssTotalPerConnection'), fmt.kib),
    cell(stat(r[id], 'rssTotalPerDocument'), fmt.kib),
    cell(stat(r[id], 'rssBeforeMiB'), fmt.int),
    cell(stat(r[id], 'rss'), fmt.kib),
    cell(stat(r[id], 'heap'), fmt.kib)
  ])
  return `### ${fmt.int(p.connections)} idle connections on ${fmt.int(documents)} documents in one process (issue 17 §3, suite \`idle10k\`)

${when(suite)} ${fmt.int(p.connections)} synced connections, each with an awareness state, ${p.perDocument} per document (${p.connectInFlight} handshakes in flight); the server process's whole RSS after a full GC, per connection and per document, and the growth from before the first connection. The load generator holds the other ${fmt.int(p.connections)} sockets (\`ulimit -n\` ≥ ${fmt.int(p.connections + 1000)}).

${table(['system', 'RSS MiB', '÷ @y/websocket-server', 'RSS KiB / connection', 'RSS KiB / document', 'RSS before MiB', 'growth KiB / connection', 'heap growth KiB / connection'], rows)}
${errorsOf(r)}`
}

function traceSection (suite) {
  const r = suite.results
  const limit = stat(r.limit, 'perSecond').median
  const rows = Object.keys(r).map((id) => [label(id, r[id], suite.plan.rounds), cell(stat(r[id], 'seconds'), fmt.n2), cell(stat(r[id], 'perSecond'), fmt.int), fmt.ratio(ratio(stat(r[id], 'perSecond').median, limit)), cell(stat(r[id], 'cpuSeconds'), fmt.n2), id === 'limit' ? '—' : loadCell(shareOf(r[id]))])
  const targets = ['ours-hp', 'ours-yws'].filter((id) => r[id]).map((id) => {
    const v = ratio(stat(r[id], 'perSecond').median, limit)
    return [`${names[id]} ≥ 0.5 × plain Y.applyUpdate`, fmt.ratio(v), verdict(check(v, '>=', 0.5))]
  })
  const count = r.limit?.rounds?.[0]?.updates
  return `### Replaying the \`${suite.plan.trace}\` trace through one client (issue 3)

${when(suite)} One client sends all ${fmt.int(count)} updates (one per patch) as fast as its socket takes them; the time runs until every update has come back to it from the server (and, for Hocuspocus clients, every SyncStatus). The limit applies the same updates with \`Y.applyUpdate\`, one by one, in a fresh process on the server's core.

${table(['system', 'seconds', 'updates/s', '÷ limit', 'server CPU-s', 'server CPU'], rows)}

${table(['target', 'measured', ''], targets)}
${errorsOf(r)}`
}

function storeSection (suite) {
  const body = suite.results.error ? `Not measured: ${suite.results.error}` : suite.results.markdown
  return `### Store throughput and cold load (issue 4, \`bench/store.js\`)

Measured ${suite.date.slice(0, 16).replace('T', ' ')} UTC, Node ${suite.node}, pinned to core 0.${load(suite)} Output of \`node bench/store.js\`, verbatim:

${body}
`
}

function scaleOutSection (suite) {
  const body = suite.results.error ? `Not measured: ${suite.results.error}` : suite.results.markdown
  return `### The Redis scale-out beside Hocuspocus's (issue 8, \`bench/scale-out.js\`)

Measured ${suite.date.slice(0, 16).replace('T', ' ')} UTC, Node ${suite.node}.${load(suite)} Output of \`node bench/scale-out.js${suite.plan?.only ? ` --only ${suite.plan.only}` : ''}\`, verbatim:

${body}
`
}

function plainSection (suite) {
  const r = suite.results
  const ids = ['plain-none', 'plain-noop', 'plain-ours', 'plain-fastify-websocket'].filter((id) => r[id])
  const labels = { 'plain-none': 'Fastify alone', 'plain-noop': 'Fastify + a no-op plugin (the control)', 'plain-ours': 'Fastify + **fastify-collab**', 'plain-fastify-websocket': 'Fastify + @fastify/websocket 11.3.6' }
  const rows = ids.map((id) => [labels[id], ...['plainPerSecond', 'plainCpuMicros', 'hookedPerSecond', 'hookedCpuMicros'].map((k) => cell(stat(r[id], k), k.endsWith('Micros') ? fmt.n1 : fmt.int))])
  const vs = (id, k, base = 'plain-none') => ratio(stat(r[id], k).median, stat(r[base], k).median)
  // Paired ratios, round by round (the rounds alternate, so a round's systems ran side by side).
  const paired = (id, base, k) => {
    const a = r[id]?.rounds ?? []
    const b = r[base]?.rounds ?? []
    return Array.from({ length: Math.min(a.length, b.length) }, (_, i) => a[i][k] / b[i][k]).filter(Number.isFinite)
  }
  const spreadCell = (values) => values.length === 0 ? '—' : `${fmt.ratio(median(values))} <sub>${fmt.ratio(Math.min(...values))}–${fmt.ratio(Math.max(...values))}</sub>`
  const base = r['plain-noop'] ? 'plain-noop' : 'plain-none'
  const controlRows = []
  const targets = []
  for (const route of ['plain', 'hooked']) {
    const key = `${route}PerSecond`
    const control = paired('plain-noop', 'plain-none', key)
    const ours = paired('plain-ours', base, key)
    // The control's spread: half the range of its paired ratios; the effect: how far fastify-collab is from the control.
    const spread = control.length === 0 ? NaN : (Math.max(...control) - Math.min(...control)) / 2
    const effect = Math.abs(1 - median(ours))
    controlRows.push([`\`/${route === 'plain' ? 'plain' : 'hooked/:id'}\``, spreadCell(control), spreadCell(ours), spreadCell(paired('plain-fastify-websocket', base, key)),
      Number.isFinite(spread) ? `± ${(spread * 100).toFixed(1)} % against ${(effect * 100).toFixed(1)} %: ${spread < effect ? 'the spread is below the effect' : '**the effect is within the control\'s spread**'}` : '—'])
    const value = vs('plain-ours', key, base)
    targets.push([`\`/${route === 'plain' ? 'plain' : 'hooked/:id'}\` with the plugin ≥ 0.97 × ${base === 'plain-noop' ? 'the no-op control' : 'without'}`, fmt.ratio(value), verdict(check(value, '>=', 0.97))])
  }
  return `### Plain routes with the plugin registered (issues 10 §1 and 17 §6)

${when(suite)} Two JSON GET routes, \`/plain\` (no hooks) and \`/hooked/:id\` (a params schema and an \`onRequest\` hook), autocannon with 32 connections; no upgrade is ever asked for. Every app loads the same Fastify copy. The control is a plugin registered exactly as fastify-collab is (\`fastify-plugin\`, a name, loaded with \`import()\`) that does nothing: fastify-collab is judged against it. The server is saturated in every run (autocannon keeps 32 requests in flight): requests/s and CPU µs per request are both its capacity.

${table(['app', '/plain req/s', 'CPU µs / req', '/hooked/:id req/s', 'CPU µs / req'], rows)}

Requests/s, paired round by round (median, range over the rounds):

${table(['route', 'no-op control ÷ Fastify alone', `fastify-collab ÷ ${base === 'plain-noop' ? 'control' : 'Fastify alone'}`, `@fastify/websocket ÷ ${base === 'plain-noop' ? 'control' : 'Fastify alone'}`, 'the control\'s spread against the effect'], controlRows)}

${table(['target', 'measured', ''], targets)}
${errorsOf(r)}`
}

function messagesSection (suite) {
  const r = suite.results
  const labels = { 'messages-parse': '`JSON.parse` in a `\'message\'` listener', 'messages-schema': '`schema.message`, parsed and validated by the plugin' }
  const rows = Object.keys(labels).map((id) => [labels[id], cell(stat(r[id], 'messagesPerSecond'), fmt.int), cell(stat(r[id], 'messageCpuMicros'), fmt.n1)])
  const value = ratio(stat(r['messages-schema'], 'messagesPerSecond').median, stat(r['messages-parse'], 'messagesPerSecond').median)
  return `### Validated messages (issue 10 §3)

${when(suite)} The same echo route, 64 sockets each keeping one 1 KiB JSON message (\`bench/servers/shape.js\`) in flight; the app echoes \`JSON.stringify\` of the message.

${table(['route', 'messages/s', 'server CPU µs / message'], rows)}

${table(['target', 'measured', ''], [['validated ≥ 0.85 × `JSON.parse` alone', fmt.ratio(value), verdict(check(value, '>=', 0.85))]])}
${errorsOf(r)}`
}

function misbehavingSection (suite) {
  const { none, slow, abuse } = suite.results
  const rows = []
  for (const [label, results] of [['slow consumer', slow], ['abuse (SyncStep1 + QueryAwareness loop)', abuse]]) {
    for (const id of Object.keys(results ?? {})) {
      const base = stat(none?.[id], 'seconds').median
      const seconds = stat(results[id], 'seconds')
      rows.push([`${names[id] ?? id}, ${label}`, cell(seconds, fmt.n2), fmt.ratio(ratio(seconds.median, base)),
        cell(stat(results[id], 'rssGrowthMiB'), fmt.n1), cell(stat(none?.[id], 'rssGrowthMiB'), fmt.n1),
        cell(stat(results[id], 'offenderClosed'), (v) => v === 1 ? 'yes' : 'no'), cell(stat(results[id], 'offenderClosedSeconds'), fmt.n2)])
    }
  }
  return `### One slow or abusive client among ${suite.plan.n} on one document (issue 7)

${when(suite)} A seed client writes ${fmt.kib(suite.plan.seedBytes)} KiB of text first; the ${suite.plan.n - 1} good clients then type ${suite.plan.count} updates each, one per 20 ms, while the last client stops reading (slow: a WebSocket ping a second; abuse: also ${suite.plan.abuseFrames} SyncStep1 with an empty state vector and as many QueryAwareness, 20 of each every 10 ms). Targets: RSS growth ≤ \`maxBufferedAmount\` + 32 MiB, convergence ≤ 1.1 × the run without the offender.

${table(['system, offender', 'good clients converged (s)', '÷ without offender', 'peak RSS growth MiB', 'without offender', 'offender closed', 'after (s)'], rows)}
${errorsOf(slow ?? {})}${errorsOf(abuse ?? {})}`
}

const msOf = (v) => Number.isFinite(v) ? `${v.toFixed(0)} ms` : v === Infinity ? 'gave up' : '—'
const sOf = (v) => Number.isFinite(v) ? `${v.toFixed(2)} s` : v === Infinity ? 'gave up' : '—'

/** A capacity bound as text: the largest size that passed, and the smallest that failed. */
function bound ({ lo, hi }) {
  if (lo === null) return hi === null ? '—' : `< ${hi}`
  return hi === null ? `≥ ${lo}` : `${lo} <sub>(${hi} failed)</sub>`
}

function capacitySection (suite) {
  const { floorSeconds, bySystem } = suite.results
  const p = suite.plan
  const cap = (id, criterion) => bySystem[id]?.capacity?.[criterion]?.lo ?? NaN
  const rows = Object.keys(bySystem).map((id) => [
    names[id] ?? id,
    bound(bySystem[id].capacity.converged),
    fmt.ratio(ratio(cap(id, 'converged'), cap('hocuspocus4', 'converged'))),
    fmt.ratio(ratio(cap(id, 'converged'), cap('y-websocket-server', 'converged'))),
    bound(bySystem[id].capacity.interactive),
    fmt.ratio(ratio(cap(id, 'interactive'), cap('hocuspocus4', 'interactive'))),
    fmt.ratio(ratio(cap(id, 'interactive'), cap('y-websocket-server', 'interactive')))
  ])
  const targets = []
  for (const id of ['ours-hp', 'ours-yws'].filter((id) => bySystem[id])) {
    for (const [criterion, what] of [['converged', 'capacity'], ['interactive', 'interactive capacity']]) {
      for (const [anchor, label] of [['hocuspocus4', 'Hocuspocus 4.7'], ['y-websocket-server', '@y/websocket-server']]) {
        const v = ratio(cap(id, criterion), cap(anchor, criterion))
        targets.push([`${names[id]}: ${what} ≥ 3 × ${label}`, fmt.ratio(v), verdict(check(v, '>=', 3))])
      }
    }
  }
  // Every measurement, for the load regime: the server's CPU share and the load generator's health.
  const detail = []
  for (const [id, entry] of Object.entries(bySystem)) {
    for (const [n, rounds] of Object.entries(entry.measurements).sort((a, b) => a[0] - b[0])) {
      // A run given up (gaveUp, or Infinity before JSON made it null) counts as the slowest.
      const s = (key) => median(rounds.map((m) => (m[key] === Infinity || ((m[key] ?? null) === null && (m.gaveUp || m.error))) ? Number.MAX_VALUE : m[key]))
      const inf = (v) => v === Number.MAX_VALUE ? Infinity : v
      detail.push([names[id] ?? id, n, `${rounds.length}`, sOf(inf(s('seconds'))), sOf(inf(s('ackSeconds'))), msOf(inf(s('p50Ms'))), msOf(inf(s('p99Ms'))), pctOf(s('serverShare')), pctOf(s('generatorCoreBusy')), msOf(s('maxLateMs'))])
    }
  }
  return `### Capacity on one document (issue 17 §1, suite \`capacity\`)

${when(suite).replace(/\d+ alternating round\(s\); median, with the range of the rounds in small print\./, `each size measured ${p.repeats} time(s), a pass needing most of them; the systems searched in lockstep.`)} Every client types ${p.count} one-character updates, one per ${p.interval} ms, evenly staggered: the floor is ${floorSeconds.toFixed(1)} s. *Capacity*: the largest number of clients whose convergence (every client holds every other's updates and, for Hocuspocus clients, every SyncStatus) is within ${p.slack} × the floor. *Interactive*: the same with the p99 of every delivery (one update's send to its arrival at one other client) within ${p.p99Ms} ms. Search: 64, 96, 128, 192, 256, 384… (48, 32… below 64) until a size fails, then bisection to ${p.resolution} × or 8 clients; a run slower than ${p.giveUp} × the floor is stopped and fails.

${table(['system', 'capacity (clients)', '÷ Hocuspocus 4.7', '÷ @y/websocket-server', 'interactive capacity', '÷ Hocuspocus 4.7', '÷ @y/websocket-server'], rows)}

${table(['target', 'measured', ''], targets)}

<details><summary>Every size measured (median of its repeats): the load regime</summary>

*Server CPU*: the server's CPU-seconds over the measured wall time (100 % = its core saturated). *Generator core*: how busy the load generator's core was; *late*: its worst delay of a scheduled send.

${table(['system', 'clients', 'repeats', 'converged', 'acked', 'p50', 'p99', 'server CPU', 'generator core', 'late'], detail)}

</details>
${Object.entries(bySystem).flatMap(([id, e]) => e.errors.map((error) => `- ${names[id] ?? id}: ${error}`)).join('\n')}
`
}

function joinsSection (suite) {
  const p = suite.plan
  const parts = []
  const targets = []
  let documentMiB = NaN
  for (const [mode, r] of Object.entries(suite.results)) {
    const rows = Object.keys(r).map((id) => {
      const e = r[id]
      documentMiB = stat(e, 'documentMiB').median || documentMiB
      const later = `> ${fmt.int(p.giveUpMs / 1000)} s`
      const gaveUp = stat(e, 'gaveUp').median >= 0.5
      const orLater = (key) => stat(e, key).n === 0 ? (gaveUp ? later : '—') : cell(stat(e, key), sOf)
      return [
        label(id, e, p.rounds),
        gaveUp ? later : cell(stat(e, 'seconds'), sOf),
        orLater('p50Seconds'),
        orLater('firstSeconds'),
        cell(stat(e, 'synced'), fmt.int),
        cell(stat(e, 'closedBy'), fmt.int),
        cell(stat(e, 'peakRssMiB'), fmt.int),
        cell(stat(e, 'rssBeforeMiB'), fmt.int),
        cell(stat(e, 'cpuSeconds'), fmt.n2),
        cell(stat(e, 'serverShare'), pctOf)
      ]
    })
    parts.push(`#### ${mode === 'cold' ? 'Cold: the storm\'s first request loads the document' : 'Warm: the document was loaded by one client before the storm'}\n\n${table(['system', 'every client synced', 'median client', 'first client', `synced (of ${p.clients})`, 'closed after syncing', 'peak RSS MiB', 'RSS before MiB', 'server CPU-s', 'server CPU'], rows)}\n${errorsOf(r)}`)
    for (const id of ['ours-hp', 'ours-sqlite'].filter((id) => r[id])) {
      const gaveUp = stat(r[id], 'gaveUp').median >= 0.5
      const seconds = gaveUp ? Infinity : stat(r[id], 'seconds').median
      const peak = stat(r[id], 'peakRssMiB').median
      targets.push([`${names[id]}, ${mode}: every client synced ≤ 5 s`, gaveUp ? `> ${fmt.int(p.giveUpMs / 1000)} s` : sOf(seconds), gaveUp ? '**missed**' : verdict(check(seconds, '<=', 5))])
      targets.push([`${names[id]}, ${mode}: peak RSS < 1 GiB`, `${fmt.int(peak)} MiB`, verdict(check(peak, '<=', 1024))])
    }
  }
  return `### Join storm: ${p.clients} clients open a ${fmt.n1(documentMiB)} MiB document at once (issue 17 §2, suite \`joins\`)

${when(suite)} The document (\`bench/lib/big-document.js\`): the final states of the automerge-paper and sveltecomponent editing traces, copied into one Y.Doc under a client ID and a root Y.Text each until it passes ${fmt.int(p.seedBytes / 1048576)} MiB (at 20 MiB: 133 pages, 8.2 million characters, about a million structs with their tombstones). Each server loads it as in production: fastify-collab and Hocuspocus through \`onLoadDocument\`, \`ours-sqlite\` from fastify-collab's SQLite store (the state imported as the snapshot), @y/websocket-server through its persistence hook. Every handshake is in flight at once; a client is synced at its first SyncStep2 (and, for Hocuspocus, Authenticated). A storm still unsynced after ${fmt.int(p.giveUpMs / 1000)} s is stopped (*> ${fmt.int(p.giveUpMs / 1000)} s*; *synced* counts the clients done by then). *Closed after syncing*: clients the server closed once synced (fastify-collab: 1013 when a send leaves more than \`maxBufferedAmount\`, 20 MiB by default, unsent: a provider would reconnect and ask again). *Peak RSS*: the server process's VmHWM (the kernel's high-water mark). *Server CPU*: CPU-seconds over the storm's wall time (100 % = its core saturated).

${parts.join('\n')}
${table(['target', 'measured', ''], targets)}
`
}

function writersSection (suite) {
  const r = suite.results
  const p = suite.plan
  const floor = p.count * p.interval / 1000
  const rows = Object.keys(r).map((id) => {
    const e = r[id]
    return [
      label(id, e, p.rounds),
      cell(stat(e, 'seconds'), sOf),
      fmt.ratio(ratio(stat(e, 'seconds').median, floor)),
      cell(stat(e, 'ackSeconds'), sOf),
      cell(stat(e, 'p50Ms'), msOf),
      cell(stat(e, 'p99Ms'), msOf),
      cell(stat(e, 'serverShare'), pctOf),
      cell(stat(e, 'generatorCpuSeconds'), fmt.n2),
      cell(stat(e, 'generatorCoreBusy'), pctOf),
      cell(stat(e, 'maxLateMs'), msOf)
    ]
  })
  const targets = ['ours-hp', 'ours-yws'].filter((id) => r[id]).map((id) => {
    const v = ratio(stat(r[id], 'seconds').median, floor)
    return [`${names[id]}: converged ≤ 3 × the floor`, fmt.ratio(v), verdict(check(v, '<=', 3))]
  })
  return `### ${fmt.int(p.n)} writers on one document (issue 17 §1, suite \`writers\`)

${when(suite)} ${fmt.int(p.n)} clients each type ${p.count} one-character updates, one per ${p.interval} ms, evenly staggered: the floor is ${floor.toFixed(1)} s. A run still unconverged after ${(p.giveUpMs / 1000).toFixed(0)} s is stopped (*gave up*). *Server CPU*: CPU-seconds over the wall time (100 % = saturated).

${table(['system', 'converged', '÷ floor', 'acked', 'delivery p50', 'p99', 'server CPU', 'load generator CPU-s', 'generator core', 'late'], rows)}

${table(['target', 'measured', ''], targets)}
${errorsOf(r)}`
}

// Each suite's section, in the README's order. A section starts with a marker naming its suite, so that
// a partial run (`--only`) replaces its own sections and keeps the others' as they were.
const sections = {
  upgrade: upgradeSection,
  fanout: fanoutSection,
  durability: durabilitySection,
  metrics: metricsSection,
  many: manySection,
  idle: idleSection,
  idle10k: idle10kSection,
  trace: traceSection,
  store: storeSection,
  scaleout: scaleOutSection,
  misbehaving: misbehavingSection,
  capacity: capacitySection,
  writers: writersSection,
  joins: joinsSection,
  plain: plainSection,
  messages: messagesSection
}
const marker = (suite) => `<!-- suite:${suite} -->`

/** The sections between the result markers of a README, by suite, as their markers delimit them. */
function keptSections (block) {
  const parts = block.split(/^<!-- suite:(\w+) -->\n/m)
  const kept = {}
  for (let i = 1; i < parts.length; i += 2) kept[parts[i]] = parts[i + 1].trimEnd() + '\n'
  return kept
}

/**
 * The markdown tables for whatever suites `results` holds, each after its marker; a suite absent from
 * `results` takes its section from `kept` (the README's as it was), if there.
 */
export function renderTables (results, kept = {}) {
  return Object.entries(sections)
    .filter(([suite]) => results[suite] || kept[suite])
    .map(([suite, render]) => `${marker(suite)}\n${results[suite] ? render(results[suite]) : kept[suite]}`)
    .join('\n')
}

/** `readme` with the part between the result markers replaced by the tables; sections of suites not in `results` stay. */
export function renderReadme (readme, results) {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`bench/README.md lacks the ${START} … ${END} markers`)
  const kept = keptSections(readme.slice(start + START.length, end))
  return readme.slice(0, start + START.length) + '\n\n' + renderTables(results, kept) + '\n' + readme.slice(end)
}
