// Owner tasks (lib/collab/owner-tasks.ts): what an instance asks the owner of a document to run for it,
// and the outcome it gets back, errors included, as the bytes that cross instances.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serialize } from 'node:v8'
import { FST_COLLAB_STORAGE_FENCED, fencedError } from 'fastify-collab'

// Internal: imported from the build output, as the package compiles it.
const { decodeOutcome, ownerTasksOf, runOwnerTask } = await import('../../dist/lib/collab/owner-tasks.js')

const instance = { instanceId: 'owner' }
const tasks = ownerTasksOf([
  { ownerTasks: { echo: async (collab, documentName, args) => ({ from: collab.instanceId, documentName, args }) } },
  {},
  {
    ownerTasks: {
      fenced: async () => { throw fencedError(new Map([['doc', 7]])) },
      app: async () => { throw Object.assign(new Error('the app said no'), { code: 'APP_NO' }) },
      uncloneable: async () => () => {}
    }
  }
])
const run = async (name, args = null) => decodeOutcome('doc', await runOwnerTask(tasks, instance, 'doc', name, serialize(args)))

test('a task\'s result crosses as it was returned, with the owner\'s instance and the document', async () => {
  assert.deepEqual(await run('echo', { label: 'v1', when: new Date(0) }), { from: 'owner', documentName: 'doc', args: { label: 'v1', when: new Date(0) } })
})

test('an error of this package comes back with its class, code and fields', async () => {
  const error = await run('fenced').catch((error) => error)
  assert.ok(error instanceof FST_COLLAB_STORAGE_FENCED)
  assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
  assert.equal(error.statusCode, 409)
  assert.deepEqual({ documents: error.documents, epochs: error.epochs, epoch: error.epoch }, { documents: ['doc'], epochs: [7], epoch: 7 })
  assert.match(error.message, /recorded epoch 7/)
})

test('any other error, a task no extension offers and a result that cannot cross come back as FST_COLLAB_OWNER_FAILED with the owner\'s message', async () => {
  await assert.rejects(run('app'), { code: 'FST_COLLAB_OWNER_FAILED', message: 'The owner of document "doc" failed: the app said no' })
  await assert.rejects(run('missing'), { code: 'FST_COLLAB_OWNER_FAILED', message: /no extension here runs "missing"/ })
  await assert.rejects(run('uncloneable'), { code: 'FST_COLLAB_OWNER_FAILED', message: /its answer cannot cross instances/ })
})
