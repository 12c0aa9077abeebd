// The names the package's parts share: the hooks and the bounds. A leaf, so
// that the diagnostics channels (which every part publishes on) can name a
// hook or a limit without importing the parts that define them.

/**
 * The name of every collab hook, in the order of a connection's life (the `Hooks` of lib/collab/hooks.ts).
 * @internal
 */
export const HOOK_NAMES = [
  'onConnect', 'onAuthenticate', 'connected', 'onLoadDocument', 'afterLoadDocument', 'onChange',
  'onStoreDocument', 'afterStoreDocument', 'onAwarenessUpdate', 'beforeHandleMessage', 'onStateless',
  'onDisconnect', 'beforeUnloadDocument', 'afterUnloadDocument', 'onDestroy'
] as const

/** A collab hook's name. */
export type HookName = typeof HOOK_NAMES[number]

/** A bound of the collab backend, as a plugin option (the `LimitOptions` of lib/collab/limits.ts). */
export type CollabLimitName =
  | 'authQueueMaxBytes' | 'authQueueMaxFrames' | 'authQueueMaxDocuments' | 'authTimeout'
  | 'maxDocumentsPerSocket' | 'maxDocumentNameLength' | 'maxAuthFailures' | 'maxAwarenessStateBytes'
  | 'maxAwarenessStates' | 'maxAwarenessClientsPerConnection' | 'maxDocumentBytes' | 'maxUnstoredBytes'

/** A bound that refuses: a collab limit, or the upgrade layer's `maxBufferedAmount` and `allowedOrigins`. */
export type LimitName = CollabLimitName | 'maxBufferedAmount' | 'allowedOrigins'
