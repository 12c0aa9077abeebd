// What only the SQLite store has: the file, its two drivers, read-only files, several processes on one file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStorage } from 'fastify-collab/sqlite'
import { openSqlite, sqliteStores } from '../helpers/stores.js'
import { captureLog } from '../helpers/log.js'
import { change, loaded, logged, storeWorker, track, typedUpdates } from '../helpers/storage.js'
import { tempDir } from '../helpers/cleanup.js'
import { within } from '../helpers/wait.js'
import { chattrImmutable, missing, nodeSqliteRuntime, runtimeHasNodeSqlite, sqliteDriver } from '../helpers/needs.js'

const retry = { initialDelay: 5, maxDelay: 20 }
const bytes = (...values) => new Uint8Array(values)

// `chattr +i` makes a file immutable even for root, which chmod cannot (chattrImmutable in needs.js).
function chattr (flag, ...files) {
  execFileSync('chattr', [flag, ...files], { stdio: 'pipe', timeout: 10_000 })
}

for (const store of sqliteStores) {
  const { driver } = store

  test(`${store.name}: the file is in WAL mode and keeps its data across instances`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const first = backend.storage({ synchronous: 'FULL' })
    assert.equal(first.driver, driver)
    first.append([{ documentName: 'a', seq: 1, update: bytes(1) }])
    first.close()
    const db = openSqlite(driver, backend.path, { readonly: true })
    assert.deepEqual(db.all('PRAGMA journal_mode').map((row) => row.journal_mode), ['wal'])
    db.close()
    const second = backend.storage()
    t.after(() => second.close())
    assert.deepEqual(second.load('a').updates.map((u) => [...u]), [[1]])
  })

  test(`${store.name}: bad options and unusable files throw coded errors`, { skip: store.skip }, (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'a.db')
    assert.throws(() => new SqliteStorage({ driver }), (error) => error instanceof TypeError && error.code === 'FST_COLLAB_INVALID_OPTION')
    assert.throws(() => new SqliteStorage({ path, driver, synchronous: 'OFF' }), { code: 'FST_COLLAB_INVALID_OPTION' })
    assert.throws(() => new SqliteStorage({ path, driver, busyTimeout: -1 }), { code: 'FST_COLLAB_INVALID_OPTION' })
    assert.throws(() => new SqliteStorage({ path, driver: 'sqlite3' }), { code: 'FST_COLLAB_INVALID_OPTION' })
    mkdirSync(join(dir, 'a-directory'))
    assert.throws(() => new SqliteStorage({ path: join(dir, 'a-directory'), driver }), (error) => {
      assert.equal(error.code, 'FST_COLLAB_STORAGE_OPEN')
      assert.match(error.cause.code, /^SQLITE_/)
      return true
    })
  })

  test(`${store.name}: a claim that meets another connection's write lock is retried without blocking, then gives up with SQLITE_BUSY`, { skip: store.skip }, async (t) => {
    const backend = await store.open(t)
    const storage = backend.storage()
    t.after(() => storage.close())
    let lock = await backend.lock()
    // The first attempt runs in the call and fails at once (busyTimeout 0); the retry after the release succeeds.
    const claimed = storage.claim('doc')
    await lock.release()
    assert.equal(await claimed, 1)
    assert.deepEqual((await backend.tables()).fences, [{ document: 'doc', epoch: 1 }])

    lock = await backend.lock()
    t.after(() => lock.release())
    await assert.rejects(storage.claim('doc'), (error) => error.code.startsWith('SQLITE_BUSY'))
    assert.deepEqual((await backend.tables()).fences, [{ document: 'doc', epoch: 1 }], 'a claim that failed issued nothing')
  })

  test(`${store.name}: a file that turns read-only (immutable) under an open store: logged, retried, nothing lost`, { skip: missing(sqliteDriver(driver), chattrImmutable), timeout: 10_000 }, async (t) => {
    const backend = await store.open(t)
    // Not the -shm file: SQLite maps it into memory, and a write to an immutable mapping is SIGBUS.
    const files = [backend.path, `${backend.path}-wal`]
    const capture = captureLog()
    const extension = backend.extension({ retry, log: capture.log })
    t.after(() => extension.onDestroy())
    const doc = await loaded(extension)
    const { updates } = typedUpdates(4)
    await extension.onChange(change('doc', doc, updates[0]))

    chattr('+i', ...files)
    t.after(() => { try { chattr('-i', ...files) } catch {} })
    const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    const acks = updates.slice(1).map((update) => extension.onChange(change('doc', doc, update)))
    const states = acks.map(track)
    const line = await failed
    assert.match(line.causeCode, /^SQLITE_(IOERR|READONLY)/)
    await logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    assert.ok(states.every((state) => !state.settled))

    chattr('-i', ...files)
    await within(Promise.all(acks), { timeout: 10_000, what: 'every acknowledgement once the store is back' })
    assert.deepEqual((await backend.tables()).updates.map((row) => row.seq), [1, 2, 3, 4])
  })

  test(`${store.name}: a store opened on a read-only file reopens it once it is writable again`, { skip: missing(sqliteDriver(driver), chattrImmutable), timeout: 10_000 }, async (t) => {
    const backend = await store.open(t)
    backend.storage().close()
    chattr('+i', backend.path)
    t.after(() => { try { chattr('-i', backend.path) } catch {} })

    const capture = captureLog()
    const extension = backend.extension({ retry, log: capture.log })
    t.after(() => extension.onDestroy())
    const doc = await loaded(extension)
    const failed = logged(capture, 'FST_COLLAB_STORAGE_APPEND')
    const ack = extension.onChange(change('doc', doc, typedUpdates(1).updates[0]))
    assert.match((await failed).causeCode, /^SQLITE_READONLY/)
    chattr('-i', backend.path)
    await within(ack, { timeout: 10_000, what: 'the acknowledgement once the file is writable' })
    assert.equal((await backend.tables()).updates.length, 1)
  })

  test(`${store.name}: two processes write one file at once with busyTimeout 0: SQLITE_BUSY is retried, nothing is lost`, { skip: store.skip, timeout: 60_000 }, async (t) => {
    const backend = await store.open(t)
    const workers = [await storeWorker(t, backend.config), await storeWorker(t, backend.config)]
    await Promise.all(workers.map((worker, i) => worker.call({ op: 'load', documentName: `doc${i}` })))
    // Ten rounds of 200 updates per process, both processes in flight at once.
    let texts = []
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(workers.map((worker, i) => worker.call({ op: 'type', documentName: `doc${i}`, count: 200, prefix: `r${round}` })))
      assert.ok(answers.every((answer) => answer.ok), JSON.stringify(answers.find((answer) => !answer.ok)))
      texts = answers.map((answer) => answer.result)
    }
    await Promise.all(workers.map((worker) => worker.call({ op: 'destroy' })))
    const { updates } = await backend.tables()
    for (const i of [0, 1]) {
      assert.deepEqual(updates.filter((row) => row.document === `doc${i}`).map((row) => row.seq), Array.from({ length: 2000 }, (_, k) => k + 1))
    }
    const reader = backend.extension()
    t.after(() => reader.onDestroy())
    for (const i of [0, 1]) assert.equal((await loaded(reader, `doc${i}`)).getText('text').toString(), texts[i])
    const busy = workers.map((worker) => worker.stderr.split('\n').filter((line) => line.includes('SQLITE_BUSY')).length)
    t.diagnostic(`appends retried after SQLITE_BUSY: ${busy.join(' and ')}`)
  })
}

/**
 * The second half of the cross-driver test, in the other driver: reads what the first wrote, is refused a
 * write under a lower epoch, writes under the current one, and claims once more (the same counter).
 * Self-contained, so that it can also run in another Node (its source is sent there). Returns plain data.
 */
async function readAndWriteBack (SqliteStorage, path, driver) {
  const storage = new SqliteStorage({ path, driver })
  try {
    const stored = storage.load('a')
    let refused = null
    try {
      storage.append([{ documentName: 'a', seq: 3, update: Uint8Array.of(4), epoch: 1 }])
    } catch (error) {
      refused = { code: error.code, epoch: error.epoch }
    }
    storage.append([{ documentName: 'a', seq: 3, update: Uint8Array.of(5), epoch: 2 }])
    const claimed = await storage.claim('a')
    return { driver: storage.driver, snapshot: [...stored.snapshot], updates: stored.updates.map((u) => [...u]), seq: stored.seq, refused, claimed }
  } finally {
    storage.close()
  }
}

// A runtime with one driver (Node 20 has no node:sqlite) runs node:sqlite's half in another Node, named by
// NODE_SQLITE_RUNTIME (.ci/run points it at its Node 24): every CI run checks both directions.
const otherRuntime = runtimeHasNodeSqlite ? undefined : nodeSqliteRuntime().found

/** Runs readAndWriteBack on node:sqlite in the Node at `node`, with this checkout's build. */
function inOtherRuntime (node, path) {
  const entry = new URL('../../dist/lib/sqlite/index.js', import.meta.url).href
  const script = `import { SqliteStorage } from ${JSON.stringify(entry)}
    process.stdout.write(JSON.stringify(await (${readAndWriteBack.toString()})(SqliteStorage, ${JSON.stringify(path)}, 'node:sqlite')))`
  return JSON.parse(execFileSync(node, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 }))
}

test('both drivers read and write the same file', { skip: missing(...sqliteStores.map((store) => sqliteDriver(store.driver)), !runtimeHasNodeSqlite && nodeSqliteRuntime) }, async (t) => {
  const path = join(tempDir(t), 'shared.db')
  const one = sqliteStores[0].driver
  const other = sqliteStores[1]?.driver ?? 'node:sqlite'
  const first = new SqliteStorage({ path, driver: one })
  first.append([{ documentName: 'a', seq: 1, update: bytes(1, 2) }])
  await first.claim('a')
  assert.equal(await first.claim('a'), 2)
  first.compact('a', bytes(0xaa), 1, 2)
  first.append([{ documentName: 'a', seq: 2, update: bytes(3) }])
  first.close()

  const second = otherRuntime === undefined ? await readAndWriteBack(SqliteStorage, path, other) : inOtherRuntime(otherRuntime, path)
  assert.deepEqual(second, {
    driver: other,
    snapshot: [0xaa],
    updates: [[3]],
    seq: 2,
    refused: { code: 'FST_COLLAB_STORAGE_FENCED', epoch: 2 },
    claimed: 3
  })

  // What the other driver wrote, read back by the first.
  const again = new SqliteStorage({ path, driver: one })
  t.after(() => again.close())
  const stored = again.load('a')
  assert.deepEqual(stored.updates.map((u) => [...u]), [[3], [5]])
  assert.equal(stored.seq, 3)
})
