// @hocuspocus/server 4.7 (coalesces each event-loop turn, flushDelay 0).
import { Server } from '@hocuspocus/server'
import { startHocuspocus } from './hocuspocus.js'

export const start = (options) => startHocuspocus(Server, options)
