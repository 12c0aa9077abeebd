// What the code blocks of README.md and docs/ use without defining it, as a reader would read them:
// an app with the plugin registered, and the app's own lookups that a page only calls. Each block is
// compiled as a module of its own (test/docs/snippets.test.js), so a block that defines a name shadows these.
import type { FastifyInstance } from 'fastify'
import type {} from 'fastify-collab'

declare global {
  /** A Fastify app with fastify-collab registered. */
  const app: FastifyInstance
  /** The app's own user lookup, by token or session: null when there is no such user. */
  function findUser (token: unknown): Promise<{ id: string, name: string, canWrite: boolean } | null>
  /** The names of the documents an app stored through @hocuspocus/extension-database. */
  function listDocumentNames (): Promise<string[]>
  /** The `fetch` an app gave @hocuspocus/extension-database: a document's state, or null. */
  function fetchDocument (name: string): Promise<Uint8Array | null>
}
