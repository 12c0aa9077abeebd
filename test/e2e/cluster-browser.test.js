import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { connectClients, synced } from '../helpers/server.js'
import { get } from '../helpers/http.js'
import { chromiumBrowser, missing, redisServer } from '../helpers/needs.js'
import { startRedis } from '../helpers/redis.js'
import { artifacts, editorText, launch, open, saved, shows, until } from '../helpers/chromium.js'
import { startExampleServer } from '../helpers/example-server.js'
import { tempDir } from '../helpers/cleanup.js'

const instanceId = async (server) => (await get(`${server.httpUrl}/health`)).json().instanceId

test('two browsers on two instances of a cluster edit together; the owner instance is killed; both recover and keep every character', { skip: missing(redisServer, chromiumBrowser), timeout: 90_000 }, async (t) => {
  const redis = await startRedis(t)
  const dataDir = tempDir(t, 'data')
  const env = { REDIS_URL: redis.url }
  const [a, b, owner] = await Promise.all([0, 1, 2].map(() => startExampleServer(t, dataDir, { env })))
  const ownerId = await instanceId(owner)

  // A client of the third instance opens the document first, and stays: that instance owns it.
  const clients = connectClients(`${owner.wsUrl}/collab`)
  t.after(() => clients.destroyAll())
  await synced(clients.hocus('cluster-e2e', { url: `${owner.wsUrl}/collab/cluster-e2e?token=demo` }))

  const context = await launch(t)
  const alice = await open(context, `${a.httpUrl}/?doc=cluster-e2e&name=Alice`)
  const bob = await open(context, `${b.httpUrl}/?doc=cluster-e2e&name=Bob`)
  await Promise.all([saved(alice), saved(bob)])
  // The page asks /api/owner once its socket synced: the answer may come after 'saved'.
  await until(alice, (id) => document.querySelector('#owner').dataset.owner === id, { arg: ownerId, what: 'the page to show the third instance as the owner' })

  await alice.locator('.cm-content').click()
  await alice.keyboard.type('Alice on A. ')
  await shows(bob, 'Alice on A. ')
  await bob.locator('.cm-content').click()
  await bob.keyboard.press('Control+End')
  await bob.keyboard.type('Bob on B.')
  await shows(alice, 'Alice on A. Bob on B.')
  await Promise.all([saved(alice), saved(bob)])
  await alice.screenshot({ path: join(artifacts, 'cluster-before-failover.png') })

  clients.destroyAll()
  await owner.kill()
  // Typed while the owner is gone: kept by the page until an instance serves the document again.
  await alice.keyboard.press('Control+End')
  await alice.keyboard.type(' Typed during the failover.')
  const expected = 'Alice on A. Bob on B. Typed during the failover.'
  await Promise.all([shows(alice, expected), shows(bob, expected)])
  await Promise.all([saved(alice), saved(bob)])
  assert.equal(await editorText(alice), expected)
  assert.equal(await editorText(bob), expected)
  // The new owner is one of the two surviving instances, and the page says so once it asks again
  // (it may first be told that nobody owns the document, while the takeover is under way).
  const survivors = await Promise.all([a, b].map(instanceId))
  await until(alice, (ids) => ids.includes(document.querySelector('#owner').dataset.owner), { arg: survivors, what: 'the page to show a surviving instance as the owner' })
  await bob.screenshot({ path: join(artifacts, 'cluster-after-failover.png') })
  assert.deepEqual([...alice.errors, ...bob.errors], [])
  // The browser goes before the servers: their close() waits for every connection it holds.
  await context.close()
  assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0])
})
