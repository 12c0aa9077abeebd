// The control for the plain-route check (issue 17 §6): a plugin registered the
// way fastify-collab is (fastify-plugin, a name, `app.register` of a module
// loaded with import()) that does nothing. Whatever it costs is the cost of
// registering a plugin at all; fastify-collab is judged against it.
import fp from 'fastify-plugin'

export default fp(async function noop () {}, { fastify: '5.x', name: 'noop-control' })
