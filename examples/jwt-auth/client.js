// A client of examples/jwt-auth/server.js: opens a document with a HocuspocusProvider, logging in for a token
// on the first connect, and again when the server refuses the token as expired. Runs in a browser or in Node.
import { HocuspocusProvider } from '@hocuspocus/provider'

/**
 * @param {object} options
 * @param {string} options.url the server's `ws://…/collab`
 * @param {string} options.name the document
 * @param {() => Promise<string>} options.login gets a new token (`POST /login`)
 * @param {object} [options.provider] more HocuspocusProvider options (`document`, `WebSocketPolyfill` in Node)
 * @returns {HocuspocusProvider}
 */
export function openDocument ({ url, name, login, provider: options = {} }) {
  let token = null
  const provider = new HocuspocusProvider({
    ...options,
    url,
    name,
    // Called at every (re)connect: the token it has, or a first one.
    token: async () => (token ??= await login()),
    onAuthenticationFailed: async ({ reason }) => {
      if (reason !== 'token-expired') return
      token = await login()
      // Authenticate again on the same socket, then ask for the document: the SyncStep1 sent with the
      // expired token was refused with it.
      await provider.sendToken()
      provider.startSync()
    }
  })
  return provider
}
