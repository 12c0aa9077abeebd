// One measurement of one system, for profiling and development:
//
//   node bench/one.js fanout ours-hp 384
//   node bench/one.js many hocuspocus4 500
//   node bench/one.js idle y-websocket-server 1000
//   node bench/one.js trace ours-yws automerge-paper
//   node bench/one.js upgrade ours
//   node bench/one.js joins ours-hp 150          150 clients join the 20 MiB document at once (cold; JOINS_WARM=1: warm)
//   node bench/one.js capacity ours-hp 256       the capacity suite's measurement at 256 clients (every delivery timed)
//   node bench/one.js writers ours-hp 1000       1,000 writers × 20 updates
//
// Add BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
import { pinLoadGenerator } from './lib/server-process.js'
import { fanout, manyDocuments, idleMemory, traceReplay, misbehaving } from './collab.js'
import { measureUpgrade } from './upgrade.js'
import { joinStorm } from './joins.js'

const [what, id, arg] = process.argv.slice(2)
const timeoutMs = 300000
const measures = {
  fanout: () => fanout(id, { n: Number(arg ?? 128), timeoutMs }),
  many: () => manyDocuments(id, { docs: Number(arg ?? 500), timeoutMs }),
  idle: () => idleMemory(id, { connections: Number(arg ?? 1000), perDocument: 100, warmup: 1000, timeoutMs }),
  trace: () => traceReplay(id, { trace: arg ?? 'automerge-paper', timeoutMs }),
  // node bench/one.js slow ours-hp 100   /   node bench/one.js abuse hocuspocus4 100
  slow: () => misbehaving(id, { n: Number(arg ?? 100), seedBytes: 1 << 20, offender: 'slow', timeoutMs }),
  abuse: () => misbehaving(id, { n: Number(arg ?? 100), seedBytes: 1 << 20, offender: 'abuse', abuseFrames: 1000, timeoutMs }),
  joins: () => joinStorm(id, { clients: Number(arg ?? 150), seedBytes: Number(process.env.JOINS_BYTES ?? 20 * 1024 * 1024), warm: process.env.JOINS_WARM === '1', giveUpMs: 120000, timeoutMs }),
  capacity: () => fanout(id, { n: Number(arg ?? 256), count: 100, interval: 20, timeoutMs, latency: true, giveUpMs: 8000, connectInFlight: 64 }),
  writers: () => fanout(id, { n: Number(arg ?? 1000), count: 20, interval: 20, timeoutMs, latency: true, giveUpMs: 60000, connectInFlight: 64 }),
  upgrade: () => measureUpgrade(id, { handshakes: Number(arg ?? 2000), echoMs: 1500, idleSockets: 1000 })
}
if (!(what in measures)) throw new Error(`usage: node bench/one.js ${Object.keys(measures).join('|')} <system> [size]`)
pinLoadGenerator()
console.log(JSON.stringify(await measures[what](), null, 1))
