import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startCluster } from '../helpers/cluster.js'
import { missing, redisServer } from '../helpers/needs.js'
import { acknowledged, synced } from '../helpers/server.js'
import { untilDocs } from '../helpers/wait.js'

const skip = missing(redisServer)

test('clients on three instances edit one document through its one owner, both protocols', { skip, timeout: 60_000 }, async (t) => {
  const { nodes } = await startCluster(t)
  const [a, b, c] = nodes
  const providers = [a.clients.hocus('shared'), b.clients.yws('shared'), c.clients.hocus('shared')]
  await Promise.all(providers.map(provider => synced(provider)))
  const docs = providers.map(provider => provider.document ?? provider.doc)
  docs.forEach((doc, i) => doc.getText('t').insert(0, `${i}`.repeat(5)))

  await untilDocs(docs, () => docs.every(doc => doc.getText('t').length === 15), { what: 'every edit everywhere' })
  assert.equal(new Set(docs.map(doc => doc.getText('t').toString())).size, 1)
  await Promise.all([acknowledged(providers[0]), acknowledged(providers[2])])
  const owners = await Promise.all(nodes.map(node => node.ownerOf('shared')))
  assert.equal(new Set(owners).size, 1, 'every instance sees the same owner')
  const loaded = await Promise.all(nodes.map(node => node.get('/instance')))
  assert.deepEqual(loaded.filter(state => state.documents.includes('shared')).map(state => state.instanceId), [owners[0]])
})

test('two instances asked for a new document at the same moment: one owner, one load', { skip, timeout: 60_000 }, async (t) => {
  const { nodes } = await startCluster(t, { count: 2 })
  for (let round = 0; round < 5; round++) {
    const name = `race-${round}`
    const providers = nodes.map(node => node.clients.hocus(name))
    await Promise.all(providers.map(provider => synced(provider)))
    const loads = nodes.flatMap(node => node.logs.filter(line => line.event === 'loaded' && line.documentName === name))
    assert.equal(loads.length, 1, `${name} loaded once`)
    const owners = await Promise.all(nodes.map(node => node.ownerOf(name)))
    assert.equal(owners[0], owners[1])
  }
})
