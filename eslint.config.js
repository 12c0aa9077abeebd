import neostandard from 'neostandard'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

// lib/collab/ in layers, the leaves first: a module may import from its own
// layer and those before it, never from a later one. import-x/no-cycle skips
// `import type`; no-restricted-paths counts every import, types included.
const collabLayers = [
  ['protocol/**', 'small-map.ts'],
  ['types.ts', 'contracts.ts'],
  ['limits.ts', 'update-check.ts', 'backlog.ts', 'counts.ts', 'lifecycle.ts', 'owner-tasks.ts'],
  ['hooks.ts', 'awareness.ts'],
  ['options.ts', 'broadcast.ts'],
  ['document.ts'],
  ['session.ts', 'direct.ts', 'direct-remote.ts'],
  ['connection.ts'],
  ['collab.ts']
].map((files) => files.map((file) => `./lib/collab/${file}`))

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', 'examples/public/build/**', 'test/artifacts/**']
  }),
  {
    files: ['lib/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })] },
    rules: {
      'import-x/no-restricted-paths': ['error', {
        zones: [
          ...collabLayers.slice(0, -1).map((target, i) => ({
            target,
            from: collabLayers.slice(i + 1).flat(),
            message: 'lib/collab/ imports flow one way (see eslint.config.js); move the shared contract to types.ts'
          })),
          {
            target: './lib/collab/**',
            from: './lib/scale-out/**',
            message: 'the collab core knows the scale-out only through the Router contract in lib/collab/contracts.ts'
          },
          {
            target: './lib/scale-out/**',
            from: './lib/collab',
            except: ['./types.ts', './contracts.ts', './protocol'],
            message: 'the scale-out knows the collab core only through the contracts in lib/collab/contracts.ts (CollabHost), the public shapes of types.ts and the pure codecs of lib/collab/protocol/'
          }
        ]
      }]
    }
  }
]
