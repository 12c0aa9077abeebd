// The version calls of CollabStorage, on every store: what a store that keeps history must do.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSqlite, stores } from '../helpers/stores.js'

const bytes = (...values) => new Uint8Array(values)
const version = (documentName, createdAt, extra = {}) => ({ documentName, createdAt, label: null, authors: [], reason: 'interval', state: bytes(createdAt % 256, 1, 2), ...extra })

for (const store of stores) {
  test(`${store.name}: putVersion issues growing ids; listVersions pages newest first without states; getVersion returns the state`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    assert.deepEqual(await storage.listVersions('doc', { limit: 10 }), [], 'an unknown document has none')
    assert.equal(await storage.getVersion('doc', 1), null)

    const ids = []
    for (let i = 0; i < 5; i++) {
      ids.push(await storage.putVersion(version('doc', 1000 + i, { label: i === 2 ? 'sent ✓' : null, authors: i === 1 ? ['ann', 'bob'] : [] })))
      await storage.putVersion(version('other', 5000 + i))
    }
    assert.ok(ids.every((id, i) => Number.isSafeInteger(id) && id >= 1 && (i === 0 || id > ids[i - 1])), `growing ids ${ids}`)

    const first = await storage.listVersions('doc', { limit: 3 })
    assert.deepEqual(first.map((v) => v.id), [ids[4], ids[3], ids[2]])
    assert.deepEqual(first[2], { id: ids[2], documentName: 'doc', createdAt: 1002, label: 'sent ✓', authors: [], reason: 'interval', size: 3 })
    const second = await storage.listVersions('doc', { limit: 3, before: first[2].id })
    assert.deepEqual(second.map((v) => v.id), [ids[1], ids[0]])
    assert.deepEqual(second[0].authors, ['ann', 'bob'])
    assert.ok(!('state' in second[0]), 'no state in a listing')

    const got = await storage.getVersion('doc', ids[3])
    assert.deepEqual([...got.state], [1003 % 256, 1, 2])
    assert.equal(got.createdAt, 1003)
    assert.equal(await storage.getVersion('other', ids[3]), null, 'an id of another document is not found under this one')
  })

  test(`${store.name}: deleteVersions deletes by id within the document, ignoring unknown ids`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    const a = await storage.putVersion(version('doc', 1))
    const b = await storage.putVersion(version('doc', 2))
    const c = await storage.putVersion(version('other', 3))
    await storage.deleteVersions('doc', [a, c, 9999])
    assert.deepEqual((await storage.listVersions('doc', { limit: 10 })).map((v) => v.id), [b])
    assert.deepEqual((await storage.listVersions('other', { limit: 10 })).map((v) => v.id), [c], 'another document\'s version is not deleted')
    await storage.deleteVersions('doc', [])
  })

  test(`${store.name}: a version write is fenced: after another connection's claim, the stale writer's putVersion and deleteVersions fail with FST_COLLAB_STORAGE_FENCED and change nothing`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const stale = backend.storage()
    const fresh = backend.storage()
    t.after(() => Promise.all([stale.close(), fresh.close()]))
    assert.equal(await stale.claim('doc'), 1)
    const kept = await stale.putVersion(version('doc', 1, { epoch: 1 }))
    assert.equal(await fresh.claim('doc'), 2, 'another "instance" claims the document')

    const isFenced = (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_FENCED')
      assert.deepEqual(error.documents, ['doc'])
      assert.deepEqual(error.epochs, [2])
      return true
    }
    await assert.rejects(async () => stale.putVersion(version('doc', 2, { epoch: 1 })), isFenced)
    await assert.rejects(async () => stale.deleteVersions('doc', [kept], 1), isFenced)
    assert.deepEqual((await fresh.listVersions('doc', { limit: 10 })).map((v) => v.id), [kept], 'nothing written, nothing deleted')

    // The new owner writes and deletes; so does a writer without an epoch (one instance).
    const newer = await fresh.putVersion(version('doc', 3, { epoch: 2 }))
    await fresh.deleteVersions('doc', [kept], 2)
    await stale.putVersion(version('unclaimed', 4))
    assert.deepEqual((await fresh.listVersions('doc', { limit: 10 })).map((v) => v.id), [newer])
  })

  test(`${store.name}: a store made before history gains the version table: SQLite on open, PostgreSQL by migrate()`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const before = backend.storage()
    await before.append([{ documentName: 'doc', seq: 1, update: bytes(1) }])
    await before.close()
    if (store.kind === 'sqlite') {
      const db = openSqlite(store.driver, backend.path)
      db.exec('DROP TABLE collab_versions')
      db.close()
    } else {
      await backend.admin.query(`DROP TABLE "${backend.schema}".collab_versions`)
    }
    const storage = backend.storage(store.kind === 'postgres' ? { migrate: false } : {})
    t.after(() => storage.close())
    if (store.kind === 'postgres') {
      await assert.rejects(async () => storage.putVersion(version('doc', 1)), { code: '42P01' }, 'without migrate, no table')
      await storage.migrate()
      const { rows } = await backend.admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [backend.schema])
      assert.deepEqual(rows.map((row) => row.table_name), ['collab_fences', 'collab_snapshots', 'collab_updates', 'collab_versions'])
    }
    assert.ok(await storage.putVersion(version('doc', 1)) >= 1)
    assert.deepEqual((await storage.load('doc')).updates.map((u) => [...u]), [[1]], 'the rest is as it was')
  })
}
