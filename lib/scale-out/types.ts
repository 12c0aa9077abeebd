// What the scale-out needs of the collab core: a leaf module, so that the
// scale-out's files depend on the core and never the other way round.

import type { FastifyBaseLogger } from 'fastify'
import type { Collab, CollabCore } from '../collab/collab.js'
import type { HookRunner } from '../collab/hooks.js'

/** The collab core as the scale-out sees it. */
export interface ScaleOutHost {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly log: FastifyBaseLogger
  readonly documents: CollabCore['documents']
  readonly acquire: CollabCore['acquire']
}
