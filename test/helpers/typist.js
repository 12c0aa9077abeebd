import * as Y from 'yjs'
import { acknowledged } from './server.js'
import { deferred } from './wait.js'

/**
 * Types numbered items into the Y.Array `items` of a HocuspocusProvider's
 * document, in small bursts, and keeps which items the server acknowledged:
 * once the provider has no unsynced change (every SyncStatus came, each sent
 * only after the owner's store committed), every item pushed before is durable.
 */
export class Typist {
  /** @type {Set<string>} items the server acknowledged */
  acked = new Set()
  /** @type {string[]} every item pushed, in order */
  pushed = []
  #stopped = false
  #moved = null

  /**
   * @param {string} name prefix of the items, unique per typist
   * @param {import('@hocuspocus/provider').HocuspocusProvider} provider
   */
  constructor (name, provider) {
    this.name = name
    this.provider = provider
    this.doc = provider.document
  }

  /** The items array of the typist's document. */
  get items () {
    return this.doc.getArray('items')
  }

  /**
   * Pushes bursts of one to three items and waits for their acknowledgement,
   * until `done()` is true or `stop()` is called. A burst that is not
   * acknowledged within `timeout` ms (its server died) is retried by the
   * provider; typing goes on once it is acknowledged.
   */
  async run (done = () => false, { timeout = 20_000 } = {}) {
    while (!this.#stopped && !done()) {
      const burst = 1 + (this.pushed.length % 3)
      this.doc.transact(() => {
        for (let i = 0; i < burst; i++) {
          const item = `${this.name}:${this.pushed.length}`
          this.pushed.push(item)
          this.items.push([item])
        }
      })
      const upTo = this.pushed.length
      await this.#settled(timeout)
      for (const item of this.pushed.slice(0, upTo)) this.acked.add(item)
    }
  }

  // Every SyncStatus came, on the provider the typist has at the end: a wait
  // on a provider that moveTo() replaced starts again on the new one.
  async #settled (timeout) {
    for (;;) {
      const provider = this.provider
      this.#moved = deferred('the typist to move')
      await Promise.race([acknowledged(provider, timeout), this.#moved.promise])
      if (provider === this.provider) return
    }
  }

  stop () {
    this.#stopped = true
  }

  /** Lets run() type again after stop(). */
  resume () {
    this.#stopped = false
  }

  /** Moves the typist's document to a new provider (as a load balancer would after its server died). */
  moveTo (clients) {
    this.provider.destroy()
    this.provider = clients.hocus(this.provider.configuration.name, { document: this.doc })
    this.#moved?.resolve()
  }
}

/**
 * Runs every typist until stopped; every one is stopped after the test. The
 * promise rejects with the first typist's error, and a failure that comes
 * after the test already failed is not reported twice.
 *
 * @param {import('node:test').TestContext} t
 * @param {Typist[]} typists
 * @param {{ timeout?: number }} [options] how long a burst may wait for its acknowledgement, in ms
 */
export function typeAll (t, typists, options) {
  t.after(() => { for (const typist of typists) typist.stop() })
  const running = Promise.all(typists.map(typist => typist.run(undefined, options)))
  running.catch(() => {})
  return running
}

/** The items of a stored document, read back as a fresh process would: snapshot plus log, applied to a new Y.Doc. */
export async function storedItems (storage, documentName) {
  const stored = await storage.load(documentName)
  const doc = new Y.Doc()
  if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
  for (const update of stored.updates) Y.applyUpdate(doc, update)
  return new Set(doc.getArray('items').toArray())
}
