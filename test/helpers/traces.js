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
 * @param {'sveltecomponent' | 'friendsforever' | 'three-writers' | 'automerge-paper'} name
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
 * Plans the causal replay of a concurrent trace with any number of agents,
 * offline, for typists whose edits carry the client ids `clientIds[agent]`.
 *
 * A transaction's positions are relative to the merged state of its
 * `parents`, while a live client may already hold concurrent edits that are
 * not among them. So each transaction is typed offline on exactly its parent
 * state, and the Yjs update that typing produces is what the live typist
 * sends. Its insertions name their neighbours at the parent state as their
 * origins (Yjs's `origin` and `rightOrigin`), so a live doc that already holds
 * concurrent text in between integrates them where YATA puts them, whatever
 * else it holds and in whichever order the updates arrive.
 *
 * The exact parent state comes from one offline Y.Doc per agent. Each agent's
 * transactions form a chain (each has the agent's previous one as an
 * ancestor), so the other agents' transactions in a transaction's history are
 * a prefix of their own chains: before typing, an agent's doc integrates the
 * recorded updates of exactly those prefixes. Its state is then the parents'
 * merged state, no more and no less.
 *
 * Ties: concurrent insertions at one place (between the same two
 * characters) occur in friendsforever, and its `endContent` puts agent 0's
 * text first. YATA orders such insertions by client id, lower first, so the
 * client ids must ascend with the agent index: ties then go to the lower
 * agent, for any number of agents. Whether that is the order of the editor
 * that recorded a trace is the trace's business: `offlineContent` (every
 * offline doc once it has integrated everything) says it before any client
 * types, and the live clients converge to exactly it.
 *
 * @param {ReturnType<typeof loadTrace>} trace a concurrent trace (`numAgents`; `agent`, `parents` on each transaction).
 * @param {number[]} clientIds the client id of each agent's edits (the live Y.Doc's `clientID`), ascending.
 * @param {string} [field] the Y.Text's name, default 'text'.
 * @returns {{ steps: PlanStep[], offlineContent: string[] }} one step per transaction, in trace order,
 *   and each offline doc's final text once it has integrated everything (a check on the plan itself).
 * @throws {Error} if `clientIds` does not have one id per agent, if the ids do not
 *   ascend, or if an agent's transactions do not form a chain.
 */
export function planConcurrent (trace, clientIds, field = 'text') {
  const agents = clientIds.length
  if (trace.numAgents !== agents) throw new Error(`the trace has ${trace.numAgents} agents, ${agents} client ids were given`)
  if (clientIds.some((id, a) => a > 0 && !(clientIds[a - 1] < id))) throw new Error('client ids must ascend with the agent index')
  const docs = clientIds.map(id => {
    const doc = new Y.Doc()
    doc.clientID = id
    return doc
  })
  const local = Symbol('local')
  const steps = []
  // chains[b]: agent b's transactions, in order.
  const chains = Array.from({ length: agents }, () => [])
  // integrated[a][b]: how many of agent b's transactions agent a's doc has.
  const integrated = Array.from({ length: agents }, () => new Array(agents).fill(0))

  for (let t = 0; t < trace.txns.length; t++) {
    const { agent, parents, patches } = trace.txns[t]
    // f[b]: the latest transaction of agent b in the history of t (parents included), -1 if none.
    const f = new Array(agents).fill(-1)
    for (const p of parents) {
      for (let b = 0; b < agents; b++) f[b] = Math.max(f[b], steps[p].frontier[b])
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
        Y.applyUpdate(doc, steps[chains[b][integrated[agent][b]++]].update)
      }
    }

    const text = doc.getText(field)
    let update = null
    const capture = (u, origin) => { if (origin === local) update = u }
    doc.on('update', capture)
    doc.transact(() => {
      for (const [position, deleteCount, insert] of patches) {
        if (position + deleteCount > text.length) throw new Error(`transaction ${t} edits past the end`)
        if (deleteCount > 0) text.delete(position, deleteCount)
        if (insert.length > 0) text.insert(position, insert)
      }
    }, local)
    doc.off('update', capture)
    update ??= Y.encodeStateAsUpdate(new Y.Doc())
    const deletes = []
    for (const [client, ranges] of Y.decodeUpdate(update).ds.clients) {
      for (const { clock, len } of ranges) deletes.push({ client, clock, len })
    }
    chain.push(t)
    steps.push({ agent, client: clientIds[agent], clock: Y.getState(doc.store, clientIds[agent]), frontier: f, update, deletes })
  }

  for (const doc of docs) {
    for (const step of steps) Y.applyUpdate(doc, step.update)
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
 * @property {Uint8Array} update the Yjs update (v1) of typing it on its parent state.
 * @property {Array<{ client: number, clock: number, len: number }>} deletes the characters it deletes, as id ranges.
 */

/**
 * Types one agent's share of a plan into a live Y.Doc, each transaction only
 * once the doc holds all of that transaction's history, insertions and
 * deletions alike (it waits for the other typists' updates to arrive through
 * the server). It may hold more: the other typists' concurrent edits. Each
 * transaction is one local Yjs transaction that applies the step's update, so
 * the doc's provider sends it as one update frame.
 *
 * @param {Y.Doc} doc the live doc, with `doc.clientID` the agent's id given to `planConcurrent`.
 * @param {{ steps: PlanStep[] }} plan
 * @param {number} agent
 * @param {{ timeout?: number }} [options] `timeout` in ms for one wait for parents, default 10000.
 * @returns {Promise<{ typed: number, concurrent: number }>} the number of
 *   transactions typed, and how many of them were typed while the doc already
 *   held other typists' later, concurrent characters (which shows that the
 *   replay really overlapped).
 * @throws {Error} when the parents do not arrive within `timeout`.
 */
export async function typeConcurrent (doc, plan, agent, { timeout = 10000 } = {}) {
  const { steps } = plan
  // Per other agent: its transactions in order, and how many of them the doc
  // is known to hold in full. A chain is integrated in order, so a counter will do.
  const others = new Map()
  steps.forEach((step, t) => {
    if (step.agent === agent) return
    if (!others.has(step.agent)) others.set(step.agent, { client: step.client, chain: [], held: 0 })
    others.get(step.agent).chain.push(t)
  })
  // A character is known deleted only once the doc has it: another agent's
  // deletion may name a third agent's character that has not arrived yet.
  const deleted = ({ client, clock, len }) => Y.getState(doc.store, client) >= clock + len &&
    Array.from({ length: len }, (_, k) => Y.getItem(doc.store, Y.createID(client, clock + k))).every(item => item.deleted)
  const holds = step => Y.getState(doc.store, step.client) >= step.clock && step.deletes.every(deleted)
  const holdsHistory = frontier => [...others].every(([b, other]) => {
    while (other.held < other.chain.length && other.chain[other.held] <= frontier[b] && holds(steps[other.chain[other.held]])) other.held++
    return other.held === other.chain.length || other.chain[other.held] > frontier[b]
  })
  const holdsMore = frontier => [...others].some(([b, other]) =>
    Y.getState(doc.store, other.client) > (frontier[b] >= 0 ? steps[frontier[b]].clock : 0))

  // Yjs reads an update that is applied (never local) and advances the doc's
  // own client id as a second client using that id, and gives the doc a new
  // one (cleanupTransactions). The typist's edits were made offline under its
  // own id, so the doc answers to no id while they are applied; the update
  // carries no other client's insertions, so nothing else can be misread.
  const typist = Symbol('typist')
  const own = doc.clientID
  let typed = 0
  let concurrent = 0
  for (let t = 0; t < steps.length; t++) {
    const step = steps[t]
    if (step.agent !== agent) continue
    if (!holdsHistory(step.frontier)) {
      await untilDocs([doc], () => holdsHistory(step.frontier), { timeout, what: `the parents of transaction ${t}` })
    }
    if (holdsMore(step.frontier)) concurrent++
    doc.clientID = -1
    try {
      // Any origin but the provider's own: the provider sends the update as one frame.
      Y.applyUpdate(doc, step.update, typist)
    } finally {
      doc.clientID = own
    }
    if (++typed % TURN === 0) await new Promise(setImmediate)
  }
  return { typed, concurrent }
}
