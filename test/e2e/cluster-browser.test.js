import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { get } from '../helpers/http.js'
import { chromiumBrowser, missing, redisServer } from '../helpers/needs.js'
import { artifacts, editorText, launch, open, saved, shows, typeInTurn, until } from '../helpers/chromium.js'
import { startClusterCommand } from '../helpers/cluster-command.js'

const instanceOf = (page) => page.locator('#instance').getAttribute('data-instance')

test('two browsers on the cluster\'s one address land on two instances; the one whose instance (the owner) is killed reconnects through the proxy to a live one, and both keep every character', { skip: missing(redisServer, chromiumBrowser), timeout: 90_000 }, async (t) => {
  const { command, proxyUrl, instances } = await startClusterCommand(t)
  const ids = await Promise.all(instances.map(async ({ url }) => (await get(`${url}/health`)).json().instanceId))

  const context = await launch(t)
  const alice = await open(context, `${proxyUrl}/?doc=cluster-e2e&name=Alice`)
  await saved(alice)
  // The header says where the socket is once the owner has told it (after the first sync, maybe).
  await until(alice, () => document.querySelector('#instance').dataset.instance !== undefined, { what: 'the page to show its instance' })
  const bob = await open(context, `${proxyUrl}/?doc=cluster-e2e&name=Bob`)
  await saved(bob)
  await until(bob, () => document.querySelector('#owner').dataset.owner !== undefined, { what: 'the page to show the owner' })
  const [aliceOn, bobOn] = await Promise.all([instanceOf(alice), instanceOf(bob)])
  assert.notEqual(aliceOn, bobOn, 'the proxy sent the second socket to another instance')
  assert.equal(await bob.locator('#owner').getAttribute('data-owner'), aliceOn, 'the instance asked first owns the document')

  await typeInTurn(alice, bob)
  await Promise.all([saved(alice), saved(bob)])
  await alice.screenshot({ path: join(artifacts, 'cluster-before-failover.png') })

  // kill -9 of Alice's instance, which owns the document: the command says so, and Alice's page
  // reconnects through the proxy to a live instance while she types.
  const killed = instances[ids.indexOf(aliceOn)]
  process.kill(killed.pid, 'SIGKILL')
  await command.line((line) => line.startsWith(`[cluster] instance ${killed.number} (pid ${killed.pid}) died (SIGKILL): its clients reconnect to instance `), { what: 'the death of the killed instance, logged' })
  await alice.keyboard.press('Control+End')
  await alice.keyboard.type(' Typed during the failover.')
  const expected = 'Alice was here. Bob too. Typed during the failover.'
  await Promise.all([shows(alice, expected), shows(bob, expected)])
  await Promise.all([saved(alice), saved(bob)])
  assert.equal(await editorText(alice), expected)
  assert.equal(await editorText(bob), expected)
  const survivors = ids.filter((id) => id !== aliceOn)
  await until(alice, ([gone, live]) => live.includes(document.querySelector('#instance').dataset.instance) && document.querySelector('#instance').dataset.instance !== gone,
    { arg: [aliceOn, survivors], what: 'the page to show the live instance it reconnected to' })
  await until(bob, (live) => live.includes(document.querySelector('#owner').dataset.owner), { arg: survivors, what: 'the page to show a live owner' })
  await alice.screenshot({ path: join(artifacts, 'cluster-after-failover.png') })
  assert.deepEqual([...alice.errors, ...bob.errors], [])

  // The browser goes before the cluster: the instances' close() waits for every connection it holds.
  await context.close()
  await command.kill('SIGTERM')
  assert.equal((await command.exit({ what: 'the cluster command to stop' })).code, 0, 'the live instances stopped cleanly')
})
