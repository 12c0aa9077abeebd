// Private state keys. Symbols keep internal state off the public surface of
// Fastify instances, requests, replies and sockets, as Fastify core does.
export const kUpgradeHooks = Symbol('fastify-collab.upgradeHooks')
export const kUpgradeState = Symbol('fastify-collab.upgradeState')
