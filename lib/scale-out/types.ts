// What the scale-out needs of the collab core: a leaf module, so that the
// scale-out's files depend on the core and never the other way round.

import type { FastifyBaseLogger } from 'fastify'
import type { CollabCore } from '../collab/collab.js'
import type { HookRunner } from '../collab/hooks.js'
import type { ResolvedCollabOptions } from '../collab/options.js'
import type { Collab } from '../collab/types.js'

/** The collab core as the scale-out sees it. */
export interface ScaleOutHost {
  readonly instance: Collab
  readonly hooks: HookRunner
  readonly log: FastifyBaseLogger
  readonly options: ResolvedCollabOptions
  readonly acquire: CollabCore['acquire']
}
