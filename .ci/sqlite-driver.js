// Kept beside .ci/run with the repository's other tooling. Run by `prepare`, so by `npm install`
// and `npm ci` in this repository (never in an app that installs fastify-collab): puts in
// node_modules the better-sqlite3 that works on the running Node. The lockfile has 13, which
// ships prebuilt Node-API binaries but needs Node 22 (on Node 20 it crashes the process). On
// Node 20 this installs 12 instead, without saving it: 12 downloads a prebuilt binary or
// compiles from source (about 2 minutes).
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'

const wanted = Number(process.versions.node.split('.')[0]) < 22 ? 12 : 13
let installed
try {
  installed = Number(createRequire(import.meta.url)('better-sqlite3/package.json').version.split('.')[0])
} catch {
  installed = wanted // not installed (npm install --omit=dev): nothing to swap
}
if (installed !== wanted) {
  process.stderr.write(`better-sqlite3 ${wanted} for Node ${process.versions.node} (npm install --no-save better-sqlite3@${wanted})\n`)
  // The npm that runs this script; without arguments it would run `prepare` again.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm']
  execFileSync(npm[0], [...npm.slice(1), 'install', '--no-save', '--no-audit', '--no-fund', `better-sqlite3@${wanted}`], { stdio: 'inherit' })
}
