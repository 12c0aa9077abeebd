// Document history: versions of documents, kept by the store (see CollabStorage's version methods), made
// automatically and on demand, thinned by a retention policy, browsed, compared and restored.

export { createVersions, defaultAuthor } from './versions.js'
export type {
  HistoryApi, HistoryClock, HistoryExtension, HistoryOptions, HistoryPluginOptions, RestoreResult, RootDiff, VersionDiff, Versions, VersionsHandle, VersionsOptions
} from './types.js'
export { checkRetention, DEFAULT_RETENTION, thinVersions, type RetentionCandidate, type RetentionTier } from './retention.js'
export type { RootRestore } from './restore.js'
export type { RootKind } from './roots.js'
export type { DiffGranularity, TextChange } from './text-diff.js'
