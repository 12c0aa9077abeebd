// The contract between the collab core and a scale-out (`fastify-collab/redis`):
// where a document is served, and how a socket here reaches a document owned
// elsewhere. The core depends on this contract only, never on the scale-out.

import type { FastifyRequest } from 'fastify'
import type { HookContext } from './hooks.js'
import type { Codec } from './protocol/codec.js'
import type { AttachedSession, SessionSocket } from './session.js'

/** Where a document is served: here, under a fencing epoch, or by another instance. */
export type Placement = { readonly here: true, readonly epoch: number } | { readonly here: false, readonly owner: string }

/** What a socket here asks of a document's owner elsewhere. */
export interface ProxyInit {
  documentName: string
  /** The Hocuspocus address ('' for y-websocket). */
  address: string
  codec: Codec
  readOnly: boolean
  context: HookContext
  request: FastifyRequest
}

/** What the core asks of a scale-out. One instance alone has none. */
export interface Router {
  /** This instance's id, unique per process start. */
  readonly instanceId: string
  /** Where a document is served; claims it for this instance when no live instance holds it. */
  place (documentName: string): Promise<Placement>
  /**
   * Opens a session on `owner` for `socket`.
   * @returns null when `owner` no longer serves the document (it moved, or the owner is gone): place it again.
   */
  proxy (socket: SessionSocket, owner: string, init: ProxyInit): Promise<AttachedSession | null>
  /** A document loaded under `epoch` unloaded here: its lease goes back. */
  unloaded (documentName: string, epoch: number): void
  /**
   * Loading a document under `epoch` failed: the store has recorded a `higher` epoch (Redis lost its data).
   * Resolves once the next place() will claim above it.
   */
  fenced (documentName: string, epoch: number, higher: number): Promise<void>
  /** The store refused a write to a document under this instance's epoch: another instance owns it now. */
  lose (documentName: string, reason: string): void
  /** The live owner of a document, or null. */
  ownerOf (documentName: string): Promise<string | null>
  /** Once every document here has unloaded: ends the sessions served for other instances and disconnects. */
  close (): Promise<void>
}
