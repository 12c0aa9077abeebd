// One measurement of one system, for profiling and development:
//
//   node bench/one.js fanout ours-hp 384
//   node bench/one.js many hocuspocus4 500
//   node bench/one.js idle y-websocket-server 1000
//   node bench/one.js trace ours-yws automerge-paper
//   node bench/one.js upgrade ours
//
// Add BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
import { pinLoadGenerator } from './lib/server-process.js'
import { fanout, manyDocuments, idleMemory, traceReplay, misbehaving } from './collab.js'
import { measureUpgrade } from './upgrade.js'

const [what, id, arg] = process.argv.slice(2)
const timeoutMs = 300000
const measures = {
  fanout: () => fanout(id, { n: Number(arg ?? 128), timeoutMs }),
  many: () => manyDocuments(id, { docs: Number(arg ?? 500), timeoutMs }),
  idle: () => idleMemory(id, { connections: Number(arg ?? 1000), perDocument: 100, timeoutMs }),
  trace: () => traceReplay(id, { trace: arg ?? 'automerge-paper', timeoutMs }),
  // node bench/one.js slow ours-hp 100   /   node bench/one.js abuse hocuspocus4 100
  slow: () => misbehaving(id, { n: Number(arg ?? 100), seedBytes: 1 << 20, offender: 'slow', timeoutMs }),
  abuse: () => misbehaving(id, { n: Number(arg ?? 100), seedBytes: 1 << 20, offender: 'abuse', abuseFrames: 1000, timeoutMs }),
  upgrade: () => measureUpgrade(id, { handshakes: Number(arg ?? 2000), echoMs: 1500, idleSockets: 1000 })
}
if (!(what in measures)) throw new Error(`usage: node bench/one.js ${Object.keys(measures).join('|')} <system> [size]`)
pinLoadGenerator()
console.log(JSON.stringify(await measures[what](), null, 1))
