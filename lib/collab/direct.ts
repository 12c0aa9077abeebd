import type * as Y from 'yjs'
import { FST_COLLAB_CLOSED } from '../errors.js'
import type { CollabDocument } from './document.js'
import type { HookContext } from './hooks.js'

/**
 * Server-side access to a document, as Hocuspocus's DirectConnection. It
 * keeps the document loaded until `disconnect()`, and is the transaction
 * origin of its changes, which go through onChange and the store like any
 * client's.
 */
export class DirectConnection {
  readonly source = 'direct'
  private connected = true

  constructor (readonly document: CollabDocument, readonly context: HookContext) {}

  get documentName (): string {
    return this.document.name
  }

  /**
   * Runs `fn(document)` in one Yjs transaction whose origin is this connection.
   *
   * @returns a promise that resolves once every onChange hook for the change has resolved.
   * @rejects with FST_COLLAB_CLOSED after `disconnect()`, once `fastify.close()`
   *   began or after the document unloaded (`fn` is then not called), with
   *   what `fn` threw, or with the first onChange error.
   */
  async transact (fn: (document: Y.Doc) => void): Promise<void> {
    if (!this.connected) throw new FST_COLLAB_CLOSED()
    await this.document.transactAs(() => fn(this.document), this)
  }

  /**
   * Detaches. When it was the last connection, the document is stored and
   * unloaded; the promise resolves when that store (or unload) has ended.
   * Calling it again does nothing.
   */
  async disconnect (): Promise<void> {
    if (!this.connected) return
    this.connected = false
    this.document.detach(this)
    await this.document.settle()
  }
}
