// Kept beside .ci/run with the repository's other tooling. Run by `prepack` (`strip`) and `postpack`
// (`restore`), so by `npm pack` and `npm publish` in this repository: npm ships package.json as it is
// on disk when the tarball is made, and its scripts run this repository's tooling (.ci/, examples/,
// bench/, test/, tsconfig.build.json), none of which is shipped. `prepare` would even be listed as an
// install script of an app that installs the tarball. So `strip` drops "scripts" from package.json for
// the length of the pack and `restore` puts the file back byte for byte. Each replaces the file with a
// rename, so that nothing reads half a package.json.
//
// npm reads package.json again after prepack, so `prepare` (the build) does not run on pack: build
// first (`npm run build`); `npm publish` does, in `prepublishOnly`. test/package/install.test.js packs
// a copy of the package through these scripts and installs it into a fresh app.
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

const MANIFEST = 'package.json'
const BACKUP = '.package.json.orig'
const command = process.argv[2]

if (command === 'strip') {
  // A pack that failed before its postpack left the stripped file behind: backing it up would lose the scripts.
  if (existsSync(BACKUP)) {
    process.stderr.write(`${BACKUP} exists: an earlier pack did not finish. Move it back to ${MANIFEST}, then pack again.\n`)
    process.exit(1)
  }
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'))
  delete manifest.scripts
  copyFileSync(MANIFEST, BACKUP)
  writeFileSync(`${MANIFEST}.tmp`, JSON.stringify(manifest, null, 2) + '\n')
  renameSync(`${MANIFEST}.tmp`, MANIFEST)
} else if (command === 'restore') {
  renameSync(BACKUP, MANIFEST)
} else {
  process.stderr.write('usage: node .ci/pack-manifest.js strip|restore\n')
  process.exit(2)
}
