import { EventEmitter } from 'node:events'
import Fastify from 'fastify'

/**
 * A real pino logger (Fastify's) whose JSON lines are kept in `lines` and emitted as 'line' events.
 * `logger` is the matching Fastify `logger` option, for an app that should log there too.
 * @param {{ level?: string }} [options] the lowest level kept, default 'info'.
 * @returns {{ log: import('fastify').FastifyBaseLogger, logger: object, lines: object[], events: EventEmitter }}
 */
export function captureLog ({ level = 'info' } = {}) {
  const lines = []
  const events = new EventEmitter()
  const logger = {
    level,
    stream: {
      write (line) {
        const entry = JSON.parse(line)
        lines.push(entry)
        events.emit('line', entry)
      }
    }
  }
  return { log: Fastify({ logger }).log, logger, lines, events }
}
