// Bundles the demo page (examples/page/main.js and its imports: yjs, CodeMirror 6,
// y-codemirror.next, @hocuspocus/provider) into examples/public/build/main.js with esbuild,
// so that the page needs no network beyond the server that serves it.
// Run by `npm run build:page` (and so by `npm install`, through `prepare`), and by
// examples/server.js when the bundle is missing.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = new URL('.', import.meta.url)

/** Where the bundle goes; examples/server.js serves it as `/build/main.js`. */
export const bundlePath = fileURLToPath(new URL('public/build/main.js', here))

/** esbuild's options for a page of the examples: one ES2020 module for the browser, minified, every import in it. */
export const pageBundle = { bundle: true, format: 'esm', target: 'es2020', platform: 'browser', minify: true, logLevel: 'warning' }

/**
 * Writes the page bundle (with a source map) to `bundlePath`.
 * @returns {Promise<void>} rejects with esbuild's error when an import cannot be resolved.
 */
export async function buildPage () {
  await build({ ...pageBundle, entryPoints: [fileURLToPath(new URL('page/main.js', here))], outfile: bundlePath, sourcemap: true })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPage()
}
