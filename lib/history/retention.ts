// The retention policy of document history: which versions to delete, as a
// pure function of the versions and the time, so that it can be tested with
// any clock and gives the same answer however often it runs.
//
// A version younger than the first tier's age is kept. An older one falls in
// the last tier whose age it passed, and there in a bucket of that tier's
// width, aligned on the Unix epoch (whole UTC hours, whole UTC days): of
// each bucket only the newest version is kept. As a version ages into a
// coarser tier, its bucket there holds the buckets it was the newest of, so
// thinning never brings back a version it deleted, and running it twice
// deletes nothing more the second time.

import { FST_COLLAB_INVALID_OPTION } from '../errors.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * One step of a retention policy: versions older than `olderThan` ms keep one version per `keepOnePer` ms
 * (the newest of each such span, spans aligned on the Unix epoch in UTC).
 */
export interface RetentionTier {
  /** Age in ms past which this tier applies; a whole number >= 0. */
  olderThan: number
  /** Width in ms of the spans of which one version is kept; a whole number >= 1. */
  keepOnePer: number
}

/**
 * The default policy: everything for 24 hours, then one version per hour (the last of each UTC hour) up to
 * 30 days, then one per day (the last of each UTC day), forever.
 */
export const DEFAULT_RETENTION: readonly RetentionTier[] = Object.freeze([
  Object.freeze({ olderThan: DAY, keepOnePer: HOUR }),
  Object.freeze({ olderThan: 30 * DAY, keepOnePer: DAY })
])

/** What {@link thinVersions} reads of a version. */
export interface RetentionCandidate {
  id: number
  /** ms since the Unix epoch. */
  createdAt: number
  label: string | null
}

/**
 * Checks a retention policy: tiers with whole numbers (`olderThan` >= 0, `keepOnePer` >= 1), in ascending
 * `olderThan`, each `keepOnePer` no finer than the one before.
 * @returns the tiers, copied.
 * @throws FST_COLLAB_INVALID_OPTION (a TypeError) naming `name` otherwise.
 */
export function checkRetention (tiers: readonly RetentionTier[], name = 'retention'): RetentionTier[] {
  if (!Array.isArray(tiers)) throw new FST_COLLAB_INVALID_OPTION(name, 'expected an array of { olderThan, keepOnePer } or false')
  const checked: RetentionTier[] = []
  for (const tier of tiers) {
    const { olderThan, keepOnePer } = tier ?? {}
    if (!Number.isSafeInteger(olderThan) || olderThan < 0) throw new FST_COLLAB_INVALID_OPTION(`${name}.olderThan`, 'expected a whole number of ms >= 0')
    if (!Number.isSafeInteger(keepOnePer) || keepOnePer < 1) throw new FST_COLLAB_INVALID_OPTION(`${name}.keepOnePer`, 'expected a whole number of ms >= 1')
    const previous = checked[checked.length - 1]
    if (previous !== undefined && (olderThan <= previous.olderThan || keepOnePer < previous.keepOnePer)) {
      throw new FST_COLLAB_INVALID_OPTION(name, 'expected tiers in ascending olderThan, each keepOnePer at least the one before')
    }
    checked.push({ olderThan, keepOnePer })
  }
  return checked
}

/**
 * The versions a retention policy deletes at `now`, by id (in no particular order). Never deleted: labelled
 * versions, the newest version, and versions younger than the first tier's `olderThan` (or from the future: a
 * clock behind the one that stamped them). Any other version is deleted unless it is the newest unlabelled one
 * of its span (see {@link RetentionTier}); ties on `createdAt` go to the higher id.
 *
 * Pure: it reads nothing but its arguments. `tiers` is not checked here (see {@link checkRetention}).
 *
 * @param versions every version of one document (in any order).
 * @param now the time in ms since the Unix epoch.
 * @param tiers the policy; default {@link DEFAULT_RETENTION}. `[]` keeps everything.
 */
export function thinVersions (versions: readonly RetentionCandidate[], now: number, tiers: readonly RetentionTier[] = DEFAULT_RETENTION): number[] {
  if (tiers.length === 0) return []
  const newer = (a: RetentionCandidate, b: RetentionCandidate): boolean => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id)
  // Per tier and span, the newest unlabelled version so far.
  const kept = new Map<string, RetentionCandidate>()
  const candidates: RetentionCandidate[] = []
  for (const version of versions) {
    // The newest version wins its span whatever its tier, so it is never deleted.
    if (version.label !== null) continue
    const age = now - version.createdAt
    let tier = -1
    for (let i = 0; i < tiers.length; i++) if (age > tiers[i].olderThan) tier = i
    if (tier === -1) continue
    candidates.push(version)
    const key = `${tier}:${Math.floor(version.createdAt / tiers[tier].keepOnePer)}`
    const best = kept.get(key)
    if (best === undefined || newer(version, best)) kept.set(key, version)
  }
  const keep = new Set(kept.values())
  return candidates.filter((version) => !keep.has(version)).map((version) => version.id)
}
