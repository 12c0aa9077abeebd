import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startCollabServer, synced } from '../helpers/server.js'
import { when, untilDocs } from '../helpers/wait.js'
import { recordHooks } from '../helpers/hooks.js'

// Hocuspocus stateless messages (type 5): into the onStateless hook, out with
// connection.sendStateless (one connection) and document.broadcastStateless
// (every connection of the document). Issue 3, item 6.

test('stateless: the hook receives, sendStateless unicasts, broadcastStateless reaches the whole document', async t => {
  const record = recordHooks(['onStateless'])
  const { yws, hocus } = await startCollabServer(t, {
    async onStateless (hook) {
      await record.hooks.onStateless(hook)
      const { payload, documentName, connection, document } = hook
      if (payload === 'ping') connection.sendStateless(`pong from ${documentName}`)
      if (payload === 'shout') document.broadcastStateless(`everyone in ${documentName}`)
    }
  })
  const room = 'stateless-room'
  const [h1, h2, elsewhere] = [hocus(room), hocus(room), hocus('stateless-elsewhere')]
  // A y-websocket client on the same document: it has no stateless type, so
  // it must not be sent any.
  const y = yws(room)
  const yFrames = []
  y.on('status', ({ status }) => {
    if (status === 'connected') y.ws.addEventListener('message', ({ data }) => yFrames.push(new Uint8Array(data)[0]))
  })
  await Promise.all([h1, h2, elsewhere, y].map(provider => synced(provider)))

  const inbox = new Map([[h1, []], [h2, []], [elsewhere, []]])
  for (const [provider, list] of inbox) provider.on('stateless', ({ payload }) => list.push(payload))

  h1.sendStateless('hello')
  await record.until('onStateless', call => call.payload === 'hello' && call.documentName === room, { what: 'onStateless("hello")' })

  // Unicast: only the sender gets the answer.
  h1.sendStateless('ping')
  await when(h1, 'stateless', { check: () => inbox.get(h1).includes(`pong from ${room}`), what: 'the unicast answer' })

  // Broadcast: every connection of the document, the sender included.
  h2.sendStateless('shout')
  await Promise.all([h1, h2].map(provider =>
    when(provider, 'stateless', { check: () => inbox.get(provider).includes(`everyone in ${room}`), what: 'the broadcast' })))

  // A server sends on one socket in order: had the unicast reached h2, it
  // would have arrived before the broadcast.
  assert.deepEqual(inbox.get(h2), [`everyone in ${room}`])
  assert.deepEqual(inbox.get(h1), [`pong from ${room}`, `everyone in ${room}`])

  // The other document got nothing; its own ping answer comes after anything
  // that would have been sent to it before.
  elsewhere.sendStateless('ping')
  await when(elsewhere, 'stateless', { check: () => inbox.get(elsewhere).length > 0, what: 'the other document\'s answer' })
  assert.deepEqual(inbox.get(elsewhere), ['pong from stateless-elsewhere'])

  // The y-websocket client only ever got y-websocket frames (types 0–3), and
  // still works.
  h1.document.getText('text').insert(0, 'after stateless')
  await untilDocs([y.doc], () => y.doc.getText('text').toString() === 'after stateless', { what: 'an edit at the y-websocket client' })
  assert.ok(yFrames.length > 0)
  assert.ok(yFrames.every(type => type <= 3), `y-websocket frame types: ${[...new Set(yFrames)]}`)

  assert.deepEqual(record.calls.onStateless.map(({ payload, documentName }) => [payload, documentName]), [
    ['hello', room], ['ping', room], ['shout', room], ['ping', 'stateless-elsewhere']
  ])
})
