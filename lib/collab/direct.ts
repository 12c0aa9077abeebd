import type * as Y from 'yjs'
import { FST_COLLAB_CLOSED } from '../errors.js'
import type { LoadedDocument } from './document.js'
import type { DirectConnection, HookContext } from './types.js'

/** A direct connection (see {@link DirectConnection}): server-side access that keeps its document loaded. */
export class DirectSession implements DirectConnection {
  readonly source = 'direct'
  private connected = true

  constructor (readonly document: LoadedDocument, readonly context: HookContext) {}

  get documentName (): string {
    return this.document.name
  }

  async transact (fn: (document: Y.Doc) => void): Promise<void> {
    if (!this.connected) throw new FST_COLLAB_CLOSED()
    await this.document.transactAs(() => fn(this.document), this)
  }

  async disconnect (): Promise<void> {
    if (!this.connected) return
    this.connected = false
    this.document.detach(this)
    await this.document.settle()
  }
}
