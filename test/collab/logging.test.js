import { test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLog } from '../helpers/log.js'
import { startCollabServer } from '../helpers/server.js'
import { when } from '../helpers/wait.js'
import { rawClient } from '../helpers/raw-client.js'

test('collab log lines name their request with the app\'s requestIdLogLabel and childLoggerFactory', async t => {
  const capture = captureLog({ level: 'warn' })
  const { url } = await startCollabServer(t, {}, {
    fastify: {
      logger: capture.logger,
      requestIdLogLabel: 'rid',
      childLoggerFactory (logger, bindings, options, rawRequest) {
        return logger.child({ ...bindings, route: rawRequest.url }, options)
      }
    }
  })
  const client = await rawClient(t, url)
  const closed = when(capture.events, 'line', { predicate: line => /collab connection closed/.test(line.msg), what: 'the close line' })
  client.socket.send('a text frame')
  const [line] = await closed
  assert.match(line.rid, /^req-/)
  assert.equal(line.route, '/collab')
  assert.equal(line.reqId, undefined)
  assert.equal(line.code, 1003)
})
