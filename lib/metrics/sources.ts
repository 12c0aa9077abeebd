// What the gauges read at scrape time, from the state each app keeps anyway:
// its upgraded sockets, its documents and their sessions, its store backlog and
// its scale-out. Nothing here runs on a hot path; a scrape walks the sockets
// and sessions once.

import type { CollabCore } from '../collab/collab.js'
import type { Attachment, Collab } from '../collab/types.js'
import type { Receiver, RouterStats } from '../collab/contracts.js'
import type { WireProtocol } from '../collab/protocol/codec.js'
import { kCollabConnection } from '../symbols.js'
import type { Sockets } from '../upgrade/sockets.js'

/** The parts of one app the metrics read. */
export interface MetricSources {
  readonly collab: Collab
  readonly core: CollabCore
  readonly sockets: Sockets
}

/** The wire protocol label of an upgraded socket: `detecting` until a collab socket's first frame, `none` for a socket collab does not serve. */
export type SocketProtocol = WireProtocol | 'detecting' | 'none'

/** The protocol label of a session: a socket's wire protocol, or `direct` for a direct connection. */
export type SessionProtocol = WireProtocol | 'direct'

type Served = { [kCollabConnection]?: { readonly wireProtocol: WireProtocol | null } }

/** Upgraded sockets and the bytes they hold unsent (ws's `bufferedAmount`), by protocol and in all. */
export function readSockets (apps: Iterable<MetricSources>): { open: Record<SocketProtocol, number>, bufferedBytes: number } {
  const open: Record<SocketProtocol, number> = { hocuspocus: 0, 'y-websocket': 0, detecting: 0, none: 0 }
  let bufferedBytes = 0
  for (const { sockets } of apps) {
    for (const socket of sockets.open) {
      const connection = (socket as Served)[kCollabConnection]
      open[connection === undefined ? 'none' : connection.wireProtocol ?? 'detecting']++
      bufferedBytes += socket.bufferedAmount
    }
  }
  return { open, bufferedBytes }
}

/** Loaded documents, their sessions by protocol, their awareness states, and the store backlog. */
export function readDocuments (apps: Iterable<MetricSources>): { documents: number, sessions: Record<SessionProtocol, number>, awarenessStates: number, unstoredBytes: number } {
  const sessions: Record<SessionProtocol, number> = { hocuspocus: 0, 'y-websocket': 0, direct: 0 }
  let documents = 0
  let awarenessStates = 0
  let unstoredBytes = 0
  for (const { core } of apps) {
    unstoredBytes += core.backlog.bytes
    for (const document of core.documents.values()) {
      documents++
      awarenessStates += document.awareness.getStates().size
      for (const attachment of document.connections) {
        sessions[attachment.source === 'direct' ? 'direct' : (attachment as Attachment & Receiver).codec.protocol]++
      }
    }
  }
  return { documents, sessions, awarenessStates, unstoredBytes }
}

/** The scale-outs' own figures (zeros for an app without one). */
export function readScaleOut (apps: Iterable<MetricSources>): RouterStats {
  const total: RouterStats = { ownedDocuments: 0, proxiedSessions: 0, servedSessions: 0 }
  for (const { core } of apps) {
    const stats = core.router?.stats()
    if (stats === undefined) continue
    total.ownedDocuments += stats.ownedDocuments
    total.proxiedSessions += stats.proxiedSessions
    total.servedSessions += stats.servedSessions
  }
  return total
}
