import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { untilDocs } from './wait.js'

/**
 * Real editing traces (josephg/editing-traces, CC BY 4.0; see
 * test/fixtures/editing-traces/README.md) and two ways to replay them through
 * Y.Docs that belong to real providers.
 *
 * A patch is `[position, deleteCount, insertText]`: delete `deleteCount`
 * characters at `position`, then insert `insertText` there. Positions count
 * UTF-16 code units, which equals code points in these ASCII traces.
 */

const cache = new Map()

/**
 * Reads and parses `test/fixtures/editing-traces/<name>.json.gz`, once per process.
 *
 * @param {'sveltecomponent' | 'friendsforever' | 'automerge-paper'} name
 * @returns {{ endContent: string, numAgents?: number, txns: Array<{ patches: Array<[number, number, string]>, agent?: number, parents?: number[] }> }}
 */
export function loadTrace (name) {
  if (!cache.has(name)) {
    const file = new URL(`../fixtures/editing-traces/${name}.json.gz`, import.meta.url)
    cache.set(name, JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')))
  }
  return cache.get(name)
}

// Hand the event loop back every this many transactions, so that frames flow
// both ways while a client types and two typists really overlap.
const TURN = 64

/**
 * Types a sequential trace into `doc.getText(field)`, one Yjs transaction per
 * trace transaction, so a provider sends one update frame per transaction.
 *
 * @param {Y.Doc} doc
 * @param {{ txns: Array<{ patches: Array<[number, number, string]> }> }} trace
 * @param {string} [field] the Y.Text's name, default 'text'.
 * @returns {Promise<number>} the number of transactions typed.
 */
export async function typeSequential (doc, trace, field = 'text') {
  const text = doc.getText(field)
  for (let i = 0; i < trace.txns.length; i++) {
    doc.transact(() => {
      for (const [position, deleteCount, insert] of trace.txns[i].patches) {
        if (deleteCount > 0) text.delete(position, deleteCount)
        if (insert.length > 0) text.insert(position, insert)
      }
    })
    if (i % TURN === TURN - 1) await new Promise(setImmediate)
  }
  return trace.txns.length
}

/**
 * Plans the causal replay of a concurrent trace, offline, for typists whose
 * Y.Docs have the client ids `clientIds[agent]`.
 *
 * A transaction's positions are relative to the merged state of its
 * `parents`, while a live client may already hold concurrent edits that are
 * not among them. So positions are turned into Yjs item ids at exactly the
 * parent state, and the live client resolves those ids in whatever state it
 * has. Ids are `(clientID, clock)`, and a client's clock advances by the
 * characters it inserts; typing the same transactions from the same client id
 * therefore creates the same ids offline and live.
 *
 * The exact parent state comes from one offline Y.Doc per agent. Each agent's
 * transactions form a chain (each has the agent's previous one as an
 * ancestor), so the other agents' transactions in a transaction's history are
 * a prefix of their own chains: before typing, an agent's doc integrates the
 * recorded updates of exactly that prefix. Its state is then the parents'
 * merged state, no more and no less.
 *
 * Concurrent insertions at one place do occur in friendsforever, and its
 * `endContent` puts agent 0's text first. Yjs (YATA) orders such a tie by
 * client id, lower first, so the client ids must ascend with the agent index.
 * Live, a typist may already hold the other's concurrent text in the gap
 * where it inserts; agent 0 then inserts at the gap's left end (after the
 * character before it at the parent state) and agent 1 at its right end
 * (before the character after it), which is the same order.
 *
 * @param {ReturnType<typeof loadTrace>} trace a concurrent trace (`agent`, `parents` on each transaction).
 * @param {number[]} clientIds the live Y.Doc client id of each agent, ascending.
 * @param {string} [field] the Y.Text's name, default 'text'.
 * @returns {{ steps: PlanStep[], offlineContent: string[] }} one step per transaction, in trace order,
 *   and each offline doc's final text once it has integrated everything (a check on the plan itself).
 * @throws {Error} if there are not two agents, if the client ids do not
 *   ascend, or if an agent's transactions do not form a chain.
 */
export function planConcurrent (trace, clientIds, field = 'text') {
  const agents = clientIds.length
  if (trace.numAgents !== 2 || agents !== 2) throw new Error('the replay orders ties for exactly two agents')
  if (!(clientIds[0] < clientIds[1])) throw new Error('client ids must ascend with the agent index')
  const docs = clientIds.map(id => {
    const doc = new Y.Doc()
    doc.clientID = id
    return doc
  })
  const local = Symbol('local')
  const updates = []
  // frontier[t][b]: the latest transaction of agent b in the history of t (parents included), -1 if none.
  const frontier = []
  // clockAfter[t]: the clock of t's agent once t is typed.
  const clockAfter = []
  const chains = Array.from({ length: agents }, () => [])
  // integrated[a][b]: how many of agent b's transactions agent a's doc has.
  const integrated = Array.from({ length: agents }, () => new Array(agents).fill(0))
  const steps = []

  for (let t = 0; t < trace.txns.length; t++) {
    const { agent, parents, patches } = trace.txns[t]
    const f = new Array(agents).fill(-1)
    for (const p of parents) {
      for (let b = 0; b < agents; b++) f[b] = Math.max(f[b], frontier[p][b])
      f[trace.txns[p].agent] = Math.max(f[trace.txns[p].agent], p)
    }
    const chain = chains[agent]
    if (f[agent] !== (chain.length ? chain[chain.length - 1] : -1)) {
      throw new Error(`transaction ${t} does not follow its agent's previous transaction`)
    }
    const doc = docs[agent]
    for (let b = 0; b < agents; b++) {
      if (b === agent) continue
      while (integrated[agent][b] < chains[b].length && chains[b][integrated[agent][b]] <= f[b]) {
        Y.applyUpdate(doc, updates[chains[b][integrated[agent][b]++]])
      }
    }

    const text = doc.getText(field)
    const planned = []
    let update
    const capture = (u, origin) => { if (origin === local) update = u }
    doc.on('update', capture)
    doc.transact(() => {
      for (const [position, deleteCount, insert] of patches) {
        const deletes = []
        for (let k = 0; k < deleteCount; k++) {
          const character = Y.createRelativePositionFromTypeIndex(text, position + k, 0)
          if (character.item === null) throw new Error(`transaction ${t} deletes past the end`)
          deletes.push(character)
        }
        if (deleteCount > 0) text.delete(position, deleteCount)
        // Agent 0 anchors to the character before (or the start), agent 1 to
        // the character after (or the end): see the tie rule above.
        const at = insert.length > 0 ? Y.createRelativePositionFromTypeIndex(text, position, agent === 0 ? -1 : 0) : null
        if (at !== null) text.insert(position, insert)
        planned.push({ deletes, at, insert })
      }
    }, local)
    doc.off('update', capture)
    updates.push(update ?? Y.encodeStateAsUpdate(new Y.Doc()))
    frontier.push(f)
    clockAfter.push(Y.getState(doc.store, clientIds[agent]))
    chain.push(t)
    steps.push({ agent, client: clientIds[agent], clock: clockAfter[t], frontier: f, patches: planned })
  }

  for (let a = 0; a < agents; a++) {
    for (const u of updates) Y.applyUpdate(docs[a], u)
  }
  const offlineContent = docs.map(doc => doc.getText(field).toString())
  for (const doc of docs) doc.destroy()
  return { steps, offlineContent }
}

/**
 * @typedef {object} PlanStep
 * @property {number} agent who types it.
 * @property {number} client the agent's client id.
 * @property {number} clock the agent's clock once it is typed.
 * @property {number[]} frontier per agent, the latest of its transactions in
 *   this one's history (parents included), -1 if none.
 * @property {Array<{ deletes: Y.RelativePosition[], at: Y.RelativePosition | null, insert: string }>} patches
 *   the characters to delete, by id, and where to insert: for agent 0 after
 *   the character before the insertion at the parent state (or at the start),
 *   for agent 1 before the character after it (or at the end).
 */

/**
 * Types one agent's share of a plan into a live Y.Doc, each transaction only
 * once the doc holds all of that transaction's parents, insertions and
 * deletions alike (it waits for the other typists' updates to arrive through
 * the server). It may hold more: the other typists' concurrent edits.
 *
 * @param {Y.Doc} doc the live doc, with `doc.clientID` the agent's id given to `planConcurrent`.
 * @param {{ steps: PlanStep[] }} plan
 * @param {number} agent
 * @param {{ field?: string, timeout?: number }} [options] `timeout` in ms for one wait for parents, default 10000.
 * @returns {Promise<{ typed: number, concurrent: number }>} the number of
 *   transactions typed, and how many of them were typed while the doc already
 *   held the other typists' later, concurrent characters (which shows that the
 *   replay really overlapped).
 * @throws {Error} when the parents do not arrive within `timeout`.
 */
export async function typeConcurrent (doc, plan, agent, { field = 'text', timeout = 10000 } = {}) {
  const text = doc.getText(field)
  const { steps } = plan
  // Per other agent: its transactions in order, and how many of them the doc
  // is known to hold in full. A chain is integrated in order, so a counter will do.
  const others = new Map()
  steps.forEach((step, t) => {
    if (step.agent === agent) return
    if (!others.has(step.agent)) others.set(step.agent, { client: step.client, chain: [], held: 0 })
    others.get(step.agent).chain.push(t)
  })
  const holds = step => Y.getState(doc.store, step.client) >= step.clock &&
    step.patches.every(({ deletes }) => deletes.every(character => Y.getItem(doc.store, character.item).deleted))
  const holdsHistory = frontier => [...others].every(([b, other]) => {
    while (other.held < other.chain.length && other.chain[other.held] <= frontier[b] && holds(steps[other.chain[other.held]])) other.held++
    return other.held === other.chain.length || other.chain[other.held] > frontier[b]
  })
  const holdsMore = frontier => [...others].some(([b, other]) =>
    Y.getState(doc.store, other.client) > (frontier[b] >= 0 ? steps[frontier[b]].clock : 0))

  let typed = 0
  let concurrent = 0
  for (let t = 0; t < steps.length; t++) {
    const step = steps[t]
    if (step.agent !== agent) continue
    if (!holdsHistory(step.frontier)) {
      await untilDocs([doc], () => holdsHistory(step.frontier), { timeout, what: `the parents of transaction ${t}` })
    }
    if (holdsMore(step.frontier)) concurrent++
    doc.transact(() => {
      for (const { deletes, at, insert } of step.patches) {
        // Last first, so the indexes of the earlier ones stay valid.
        for (let k = deletes.length - 1; k >= 0; k--) {
          // A concurrent edit of the other typist may have deleted it already.
          if (Y.getItem(doc.store, deletes[k].item).deleted) continue
          text.delete(Y.createAbsolutePositionFromRelativePosition(deletes[k], doc).index, 1)
        }
        if (at !== null) text.insert(Y.createAbsolutePositionFromRelativePosition(at, doc).index, insert)
      }
    })
    if (++typed % TURN === 0) await new Promise(setImmediate)
  }
  return { typed, concurrent }
}
