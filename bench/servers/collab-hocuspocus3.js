// @hocuspocus/server 3.4, installed as the npm alias @hocuspocus/server-v3.
import { Server } from '@hocuspocus/server-v3'
import { startHocuspocus } from './hocuspocus.js'

export const start = (options) => startHocuspocus(Server, options)
