// Not committed: what applying a turn's updates in one transaction would save (issue 17 profile).
import * as Y from 'yjs'
import { typingUpdates } from './lib/updates.js'
function run (clients, perClient, batch) {
  const doc = new Y.Doc()
  let events = 0
  doc.on('update', () => { events++ })
  const all = Array.from({ length: clients }, (_, i) => typingUpdates(i + 1, perClient))
  // warm-up: every client's first update, so the store holds `clients` clients
  for (let i = 0; i < clients; i++) Y.applyUpdate(doc, all[i][0])
  const order = []
  for (let k = 1; k < perClient; k++) for (let i = 0; i < clients; i++) order.push(all[i][k])
  const t0 = performance.now()
  if (batch === 1) for (const u of order) Y.applyUpdate(doc, u)
  else for (let j = 0; j < order.length; j += batch) doc.transact(() => { for (const u of order.slice(j, j + batch)) Y.applyUpdate(doc, u) })
  const ms = performance.now() - t0
  return { us: (ms * 1000 / order.length).toFixed(2), events }
}
for (const clients of [64, 256, 1000]) {
  const perClient = clients === 1000 ? 20 : 50
  for (const batch of [1, 16, 64]) console.log(`${clients} clients, batch ${batch}: ${JSON.stringify(run(clients, perClient, batch))} µs per update`)
}
