// The retention policy, a pure function, under a fake clock: which versions survive as time passes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { checkRetention, DEFAULT_RETENTION, thinVersions } from 'fastify-collab'
import { fakeClock } from '../helpers/clock.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Versions every `every` ms from `from` to `to` (exclusive), ids in time order. */
function versionsEvery (from, to, every, firstId = 1) {
  const versions = []
  for (let time = from, id = firstId; time < to; time += every, id++) versions.push({ id, createdAt: time, label: null })
  return versions
}

/** Applies thinning the way the history does: after each new version. */
function thinAfterEach (versions, clock, tiers = DEFAULT_RETENTION) {
  let kept = []
  for (const version of versions) {
    clock.set(version.createdAt)
    kept.push(version)
    const doomed = new Set(thinVersions(kept, clock.now(), tiers))
    kept = kept.filter((v) => !doomed.has(v.id))
  }
  return kept
}

test('the default policy: everything for 24 hours, then one per hour up to 30 days, then one per day', () => {
  const clock = fakeClock()
  const start = clock.now()
  // A version every 10 minutes for 40 days.
  const all = versionsEvery(start, start + 40 * DAY, 10 * MINUTE)
  const kept = thinAfterEach(all, clock)
  const now = clock.now()
  const ages = kept.map((v) => now - v.createdAt)
  const young = ages.filter((age) => age <= DAY)
  const hourly = kept.filter((v) => now - v.createdAt > DAY && now - v.createdAt <= 30 * DAY)
  const daily = kept.filter((v) => now - v.createdAt > 30 * DAY)
  assert.equal(young.length, 24 * 6 + 1, 'every version of the last 24 hours (both ends included)')
  // The youngest of a tier may stand for a span whose later versions are still in the tier before.
  assert.equal(new Set(hourly.map((v) => Math.floor(v.createdAt / HOUR))).size, hourly.length, 'one per UTC hour')
  for (const v of hourly.slice(0, -1)) assert.equal(v.createdAt % HOUR, 50 * MINUTE, 'the last version of its hour')
  assert.ok(Math.abs(hourly.length - 29 * 24) <= 1, `one per hour for the 29 days past the first (${hourly.length})`)
  assert.equal(new Set(daily.map((v) => Math.floor(v.createdAt / DAY))).size, daily.length, 'one per UTC day')
  for (const v of daily.slice(0, -1)) assert.equal(v.createdAt % DAY, DAY - 10 * MINUTE, 'the last version of its day')
  assert.ok(Math.abs(daily.length - 10) <= 1, `one per day past 30 days (${daily.length})`)

  // Time passes with no new version: thinning goes on as versions age.
  clock.advance(60 * DAY)
  const later = new Set(thinVersions(kept, clock.now()))
  const left = kept.filter((v) => !later.has(v.id))
  assert.equal(new Set(left.map((v) => Math.floor(v.createdAt / DAY))).size, left.length, 'one per day once all are older than 30 days')
  assert.ok(left.length >= 40 && left.length <= 41, `${left.length} left`)
  assert.ok(left.some((v) => v.id === all[all.length - 1].id), 'the newest version is never deleted')
})

test('labelled versions are kept whatever their age, and do not stand for their hour', () => {
  const clock = fakeClock()
  const start = clock.now()
  const versions = versionsEvery(start, start + 2 * HOUR, 10 * MINUTE)
  versions[1].label = 'draft sent'
  clock.set(start + 3 * DAY)
  const doomed = new Set(thinVersions(versions, clock.now()))
  const kept = versions.filter((v) => !doomed.has(v.id))
  assert.deepEqual(kept.map((v) => v.id), [2, 6, 12], 'the labelled one, and the last of each hour')
})

test('versions from the future (a clock behind) and ties on the time', () => {
  const now = Date.UTC(2025, 5, 1)
  const future = { id: 1, createdAt: now + HOUR, label: null }
  assert.deepEqual(thinVersions([future], now), [])
  const a = { id: 7, createdAt: now - 2 * DAY, label: null }
  const b = { id: 8, createdAt: now - 2 * DAY, label: null }
  assert.deepEqual(thinVersions([b, a, future], now), [7], 'same time: the higher id stands for the hour')
})

test('a configured policy, and `[]` keeping everything', () => {
  const now = Date.UTC(2025, 5, 1)
  const versions = versionsEvery(now - 10 * MINUTE * 12, now, MINUTE)
  const tiers = checkRetention([{ olderThan: 0, keepOnePer: 10 * MINUTE }])
  const doomed = new Set(thinVersions(versions, now, tiers))
  assert.equal(versions.length - doomed.size, 12, 'one per 10 minutes from age 0')
  assert.deepEqual(thinVersions(versions, now, []), [])
})

test('checkRetention refuses tiers out of order, or not whole numbers, with FST_COLLAB_INVALID_OPTION', () => {
  for (const tiers of [
    [{ olderThan: DAY, keepOnePer: HOUR }, { olderThan: HOUR, keepOnePer: DAY }],
    [{ olderThan: DAY, keepOnePer: DAY }, { olderThan: 2 * DAY, keepOnePer: HOUR }],
    [{ olderThan: -1, keepOnePer: HOUR }],
    [{ olderThan: DAY, keepOnePer: 0 }],
    [{ olderThan: 1.5, keepOnePer: HOUR }],
    'daily'
  ]) {
    assert.throws(() => checkRetention(tiers), { code: 'FST_COLLAB_INVALID_OPTION' }, JSON.stringify(tiers))
  }
  assert.deepEqual(checkRetention(DEFAULT_RETENTION), [{ olderThan: DAY, keepOnePer: HOUR }, { olderThan: 30 * DAY, keepOnePer: DAY }])
})

test('property: thinning is idempotent, keeps labels and the newest, never keeps two unlabelled versions of one span of an older tier', () => {
  const version = fc.record({ createdAt: fc.integer({ min: 0, max: 90 * DAY }), labelled: fc.boolean() })
  fc.assert(fc.property(fc.array(version, { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 120 * DAY }), (raw, offset) => {
    const base = Date.UTC(2025, 0, 1)
    const versions = raw.map((v, i) => ({ id: i + 1, createdAt: base + v.createdAt, label: v.labelled ? 'l' : null }))
    const now = base + offset
    const doomed = new Set(thinVersions(versions, now))
    const kept = versions.filter((v) => !doomed.has(v.id))
    assert.deepEqual(thinVersions(kept, now), [], 'a second pass deletes nothing')
    for (const v of versions) if (v.label !== null) assert.ok(!doomed.has(v.id))
    const newest = versions.reduce((a, b) => (b.createdAt > a.createdAt || (b.createdAt === a.createdAt && b.id > a.id)) ? b : a)
    assert.ok(!doomed.has(newest.id))
    const spans = new Set()
    for (const v of kept) {
      const age = now - v.createdAt
      if (v.label !== null || age <= DAY) continue
      const key = age > 30 * DAY ? `d${Math.floor(v.createdAt / DAY)}` : `h${Math.floor(v.createdAt / HOUR)}`
      assert.ok(!spans.has(key), `two versions kept in span ${key}`)
      spans.add(key)
    }
  }), { seed: 1804, numRuns: 300 })
})
