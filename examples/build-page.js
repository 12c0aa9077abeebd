// Bundles the demo page (examples/page/main.js and its imports: yjs, CodeMirror 6,
// y-codemirror.next, @hocuspocus/provider) into examples/public/build/main.js with esbuild,
// so that the page needs no network beyond the server that serves it.
// Run by `npm run build:page` (and so by `npm install`, through `prepare`), and by
// examples/app.js when the bundle is missing or older than the page's sources (a `git pull`
// without `npm install` must not serve yesterday's page).
import { build } from 'esbuild'
import { readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = new URL('.', import.meta.url)

/** Where the bundle goes; examples/server.js serves it as `/build/main.js`. */
export const bundlePath = fileURLToPath(new URL('public/build/main.js', here))

/** esbuild's options for a page of the examples: one ES2020 module for the browser, minified, every import in it. */
export const pageBundle = { bundle: true, format: 'esm', target: 'es2020', platform: 'browser', minify: true, logLevel: 'warning' }

const pageDir = fileURLToPath(new URL('page/', here))

/** True when the bundle is missing or a file of examples/page/ changed after it was written. */
export function pageIsStale () {
  const built = statSync(bundlePath, { throwIfNoEntry: false })?.mtimeMs
  return built === undefined || readdirSync(pageDir).some((name) => statSync(pageDir + name).mtimeMs > built)
}

/**
 * Writes the page bundle (with a source map) to `bundlePath`.
 * @returns {Promise<void>} rejects with esbuild's error when an import cannot be resolved.
 */
export async function buildPage () {
  await build({ ...pageBundle, entryPoints: [pageDir + 'main.js'], outfile: bundlePath, sourcemap: true })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPage()
}
