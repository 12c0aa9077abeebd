// Private state keys. Symbols keep internal state off the public surface of
// Fastify instances, requests, replies and sockets, as Fastify core does. None
// of them appears in the published typings: the modules that use one cast to
// a local type (see lib/upgrade/types.ts), never augment Fastify's or Node's.

// On each encapsulation context (a Fastify instance): its onUpgrade hooks and
// the GET routes that have no onUpgrade runner yet.
export const kUpgradeContext = Symbol('fastify-collab.upgradeContext')
// On the raw IncomingMessage of an upgrade request, set by the 'upgrade'
// listener: what the plugin knows of it. Its presence is what marks a request
// as an upgrade request; a plain request never gets it.
export const kUpgrade = Symbol('fastify-collab.upgrade')
// In a GET route's `config` (Fastify copies it into the route's context), what
// reply.upgrade() needs of the route: allowedOrigins, schema.message. Read only
// on upgrade requests, so a plain request never touches it.
export const kRouteUpgrade = Symbol('fastify-collab.routeUpgrade')
// On a socket of a route with `schema.message`: the route's validator and the request.
export const kMessages = Symbol('fastify-collab.messages')
// On every upgraded socket: the logger of the request it came from, and
// whether it answered the last heartbeat ping.
export const kSocketLog = Symbol('fastify-collab.socketLog')
export const kSocketAlive = Symbol('fastify-collab.socketAlive')
// The collab Connection serving an upgraded socket; lets one shared listener
// function serve every socket instead of three closures per socket.
export const kCollabConnection = Symbol('fastify-collab.collabConnection')
// On every upgraded socket, until a 'message' listener takes it: the frames
// that came before (lib/upgrade/early-frames.ts); null once it is read.
export const kEarlyFrames = Symbol('fastify-collab.earlyFrames')
