// The long run of the fuzz test (issue 7 §6): random and mutated frames of both
// wire formats (test/helpers/fuzz.js) against fastify-collab in its own process,
// while a y-websocket and a Hocuspocus provider edit the fuzzed document.
//
//   node bench/fuzz.js                      10 minutes
//   node bench/fuzz.js --minutes 1 --seed 7
//
// Every 10 seconds it prints sessions played, close codes, and the server's RSS
// and heap after a full GC. It fails (exit 1) when the server process dies, a
// session finds the server stuck, or the providers disconnect or fail to converge.
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { startServer } from './lib/server-process.js'
import { fuzzSession, playSession } from '../test/helpers/fuzz.js'

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string', default: String(Date.now() % 1e6) } } })
const deadline = Date.now() + Number(args.minutes) * 60_000
const server = await startServer('collab-ours')
const base = `ws://127.0.0.1:${server.port}/collab`
const yDoc = new Y.Doc()
const hDoc = new Y.Doc()
const y = new WebsocketProvider(base, 'fuzz', yDoc, { WebSocketPolyfill: WebSocket, disableBc: true })
const h = new HocuspocusProvider({ url: base, name: 'fuzz', document: hDoc, token: 't', WebSocketPolyfill: WebSocket })
const text = doc => doc.getText('text').toString()
const witnessCloses = []
y.on('connection-close', event => witnessCloses.push(['y-websocket', event?.code]))
h.on('close', ({ event }) => witnessCloses.push(['hocuspocus', event?.code]))
const mib = bytes => (bytes / 1048576).toFixed(1)

const closes = {}
let sessions = 0
let seed = Number(args.seed)
let nextReport = Date.now()
let failure = null
console.log(`seed ${seed}, ${args.minutes} min`)
try {
  while (Date.now() < deadline) {
    await fc.assert(fc.asyncProperty(fuzzSession, async session => {
      const { closed } = await playSession(base, session)
      sessions++
      if (closed !== null) closes[closed] = (closes[closed] ?? 0) + 1
    }), { numRuns: 200, seed: seed++ })
    yDoc.getText('text').insert(0, 'y')
    hDoc.getText('text').insert(0, 'h')
    if (Date.now() >= nextReport) {
      const { memory } = await server.usage({ gc: true })
      console.log(`${new Date().toISOString().slice(11, 19)} sessions ${sessions} rss ${mib(memory.rss)} MiB heap ${mib(memory.heapUsed)} MiB closes ${JSON.stringify(closes)}`)
      nextReport = Date.now() + 10_000
    }
  }
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the providers did not converge within 10 s')), 10_000)
    const check = () => {
      if (text(yDoc) !== text(hDoc)) return
      clearTimeout(timer)
      resolve()
    }
    yDoc.on('update', check)
    hDoc.on('update', check)
    check()
  })
  if (witnessCloses.length > 0) throw new Error(`the server closed a provider: ${JSON.stringify(witnessCloses)}`)
  console.log(`ok: ${sessions} sessions, providers converged on ${text(yDoc).length} characters`)
} catch (error) {
  failure = error
  console.error(`FAILED after ${sessions} sessions (seed ${seed - 1}): ${error.message}`)
} finally {
  y.destroy()
  y.awareness.destroy()
  h.destroy()
  await server.stop()
}
process.exitCode = failure === null ? 0 : 1
