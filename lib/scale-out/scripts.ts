// The Lua scripts of the scale-out, run atomically by Redis (EVALSHA). Every
// time they compare is Redis's own clock (TIME), so no two instances' clocks
// are ever compared with each other.
//
// Keys (with the `prefix` option, default `fastify-collab`):
//   <prefix>:lease:<document>  "<instanceId> <token>", PX leaseMs    the owner of a document
//   <prefix>:instances         sorted set instanceId → expiresAt      the heartbeats (ms, Redis clock)
//
// A lease only routes: it tells every instance where a document is served.
// It is taken with SET PX only when nobody holds it or its holder's heartbeat
// has lapsed, and renewed or released only by its holder (compare and set on
// the whole value, whose token is unique per claim): an instance never
// touches another's lease, nor a later lease of its own. What keeps two
// owners from both writing is the store's fencing epoch, which Redis never
// holds: Redis restarts empty, fails over to a replica that was behind, or is
// flushed, and a counter here would start again from zero.

/** Redis's clock in ms, from TIME (seconds, microseconds). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * Claims a document for ARGV[1] unless a live instance holds it.
 * KEYS: lease, instances. ARGV: instanceId, leaseMs, channel prefix, the claim's token (unique per claim of
 * this instance), then the instances the caller suspects (a publish to them reached nobody).
 * Returns { owner, token }: ARGV[1] and ARGV[4] when claimed, else the holder and its token. A holder is
 * taken over when its heartbeat lapsed, or when the caller suspects it and Redis confirms that nobody
 * listens on its channel: a process that died closed its connections, so its death is seen at once,
 * without waiting for the heartbeat (the store's fence stops it if it was only reconnecting). A lease
 * ARGV[1] itself still holds is claimed again under the new token: the caller only claims what it does not
 * serve (its earlier claim stepped down).
 */
export const CLAIM = `${NOW}
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ' ', 1, true)
  local owner = string.sub(current, 1, sep - 1)
  if owner ~= ARGV[1] then
    local expires = redis.call('ZSCORE', KEYS[2], owner)
    local alive = expires and tonumber(expires) > now
    if alive then
      for i = 5, #ARGV do
        if ARGV[i] == owner and redis.call('PUBSUB', 'NUMSUB', ARGV[3] .. owner)[2] == 0 then
          alive = false
        end
      end
    end
    if alive then
      return { owner, string.sub(current, sep + 1) }
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[4], 'PX', ARGV[2])
return { ARGV[1], ARGV[4] }`

/**
 * Renews leases ARGV[1] holds. KEYS: the leases. ARGV: leaseMs, then the whole value
 * (`"<instanceId> <token>"`) of each lease. A lease whose value is not that one any more (another instance
 * claimed it, or it expired, or Redis lost it) is never set again: its holder may not know what happened
 * to the document meanwhile, so it must step down (the next claim, maybe its own, loads the store).
 * Returns the 1-based indexes (among the leases) of those not renewed.
 */
export const RENEW = `local lost = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost`

/** Deletes a lease if ARGV[1] (`"<instanceId> <token>"`) still holds it. KEYS: the lease. Returns 1 when deleted. */
export const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

/**
 * The heartbeat: ARGV[1] is alive for ARGV[2] ms more, but only while someone
 * is subscribed to its channel ARGV[3]: an instance nobody can reach must not
 * look alive. KEYS: instances. Entries that lapsed an hour ago are dropped, so
 * the set does not grow with every process ever started.
 * Returns the number of subscribers of ARGV[3].
 */
export const HEARTBEAT = `${NOW}
local subscribers = redis.call('PUBSUB', 'NUMSUB', ARGV[3])[2]
if subscribers > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
return subscribers`

/** Removes ARGV[1] from the live set (a clean shutdown). KEYS: instances. */
export const LEAVE = "return redis.call('ZREM', KEYS[1], ARGV[1])"

/**
 * How each instance is: subscribed to its channel with a heartbeat that has not
 * lapsed (2), subscribed with a lapsed heartbeat (1: stalled, or only busy), or
 * with nobody listening on its channel (0: a process that died closed its
 * subscription at once; one that only reconnects it resets its cross-instance
 * sessions itself).
 * KEYS: instances. ARGV: channel prefix, then the instances.
 */
export const LIVENESS = `${NOW}
local liveness = {}
for i = 2, #ARGV do
  if redis.call('PUBSUB', 'NUMSUB', ARGV[1] .. ARGV[i])[2] == 0 then
    liveness[i - 1] = 0
  else
    local expires = redis.call('ZSCORE', KEYS[1], ARGV[i])
    liveness[i - 1] = (expires and tonumber(expires) > now) and 2 or 1
  end
end
return liveness`

/**
 * The holder of a lease if its heartbeat has not lapsed, else nil.
 * KEYS: lease, instances.
 */
export const OWNER = `${NOW}
local current = redis.call('GET', KEYS[1])
if not current then return false end
local owner = string.sub(current, 1, string.find(current, ' ', 1, true) - 1)
local expires = redis.call('ZSCORE', KEYS[2], owner)
if expires and tonumber(expires) > now then return owner end
return false`
