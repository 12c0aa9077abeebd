// How every example process starts, listens and stops, so that each app file is only its app.
//
// HOST (default 127.0.0.1) and PORT (default: the example's own; 0 picks a free port) say where it
// listens; one log line gives the URL to open. Ctrl-C (SIGINT) or SIGTERM calls `fastify.close()`
// (fastify-collab stores every document and closes its sockets with 1012) and exits with 0, or 1 if
// the close failed; a second signal exits at once, the way out of a close that hangs. A process
// started with an IPC channel (examples/cluster.js starts its instances so) says on it where it
// listens, and stops the same way when the channel closes: its parent is gone, however it ended.
// Before the app listens, either ends the process at once: it holds nothing yet.

/**
 * Builds the app, listens, and stops on the first signal or when the parent's IPC channel closes.
 * @param {() => Promise<import('fastify').FastifyInstance>} build
 * @param {{ port: number, text: (address: string, app: import('fastify').FastifyInstance) => string }} options
 *   `port` when PORT is not set; `text` is the line logged once it listens.
 * @returns {Promise<import('fastify').FastifyInstance>} the app, listening.
 */
export async function serve (build, { port, text }) {
  let app = null
  let closing = false
  async function shutdown (why) {
    if (app === null) process.exit(0)
    if (closing) {
      app.log.warn({ why }, 'exiting without waiting for the close')
      process.exit(1)
    }
    closing = true
    // A 'disconnect' listener keeps the IPC channel, and so the process, alive.
    process.off('disconnect', parentGone)
    app.log.info({ why }, 'storing every document, then exiting')
    try {
      await app.close()
      app.log.info('closed')
      process.exitCode = 0
    } catch (error) {
      app.log.error({ err: error }, 'close failed')
      process.exitCode = 1
    }
  }
  const parentGone = () => shutdown('the IPC channel to the parent closed')
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
  if (process.connected) process.once('disconnect', parentGone)

  app = await build()
  const address = await app.listen({
    port: Number(process.env.PORT ?? port),
    host: process.env.HOST ?? '127.0.0.1',
    listenTextResolver: (address) => text(address, app)
  })
  process.send?.({ listening: address })
  return app
}
