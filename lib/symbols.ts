// Private state keys. Symbols keep internal state off the public surface of
// Fastify instances, requests, replies and sockets, as Fastify core does.
export const kUpgradeHooks = Symbol('fastify-collab.upgradeHooks')
export const kUpgradeState = Symbol('fastify-collab.upgradeState')
// Set by the 'upgrade' listener on the raw IncomingMessage: the bytes read past
// the request head. Its presence is what marks a request as an upgrade request.
export const kUpgradeHead = Symbol('fastify-collab.upgradeHead')
// The 'data' listener that keeps an upgrade socket read while its hooks run.
export const kEarlyData = Symbol('fastify-collab.earlyData')
// The handshake error ws found after the hijack, answered with 400.
export const kHandshakeError = Symbol('fastify-collab.handshakeError')
// Extra 101 headers asked for with reply.upgrade({ headers }), read by the
// WebSocketServer 'headers' listener.
export const kResponseHeaders = Symbol('fastify-collab.responseHeaders')
// Per-socket heartbeat mark: the TCP socket's bytesRead when the last ping went out.
export const kBytesRead = Symbol('fastify-collab.bytesRead')
// The id of the request an upgraded socket came from, for its log lines.
export const kRequestId = Symbol('fastify-collab.requestId')
// The collab Connection serving an upgraded socket; lets one shared listener
// function serve every socket instead of three closures per socket.
export const kCollabConnection = Symbol('fastify-collab.collabConnection')
