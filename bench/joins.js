// Issue 17 §2: a join storm. `clients` clients (150) open a large document
// (20 MiB, lib/big-document.js) at the same moment, every handshake in
// flight at once. The document is stored so that each server loads it as it
// would in production: through onLoadDocument (fastify-collab, Hocuspocus),
// the persistence hook (@y/websocket-server), or fastify-collab's SQLite store
// (`ours-sqlite`: the state imported as the document's snapshot).
//
// Cold: nobody holds the document, the storm's first request loads it. Warm:
// one client opened it before (so it is loaded), then the storm.
//
// Per system: the time until every client is synced (its first SyncStep2 and,
// for Hocuspocus, Authenticated) and the median, the server's peak RSS
// (VmHWM of /proc/<pid>/status: the kernel's high-water mark, which no
// sampling can miss) and its RSS before the storm, and its CPU-seconds (from
// /proc/<pid>/stat: a server given up on may not answer over IPC for minutes). The
// clients read the SyncStep2's length but do not buffer its 20 MiB
// (WireSocket's truncateOver): the load generator would otherwise hold 150
// copies.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from './lib/server-process.js'
import { CollabClient } from './lib/collab-client.js'
import { bigDocument } from './lib/big-document.js'
import { withTimeout } from './lib/stats.js'
import { systems as collabSystems } from './collab.js'

export const systems = {
  'ours-hp': collabSystems['ours-hp'],
  'ours-yws': collabSystems['ours-yws'],
  'ours-sqlite': collabSystems['ours-sqlite'],
  hocuspocus4: collabSystems.hocuspocus4,
  hocuspocus3: collabSystems.hocuspocus3,
  'y-websocket-server': collabSystems['y-websocket-server']
}

const DOCUMENT = 'join'

/** CPU-seconds a process has used, every thread (utime + stime of /proc/<pid>/stat, 100 ticks a second): readable while its event loop is blocked. */
export function procCpuSeconds (pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** VmRSS and VmHWM (bytes) of a process. */
export function procMemory (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kib('VmRSS'), peak: kib('VmHWM') }
}

async function seedSqlite (dir, state) {
  const { SqliteStorage, importDocuments } = await import('fastify-collab/sqlite')
  const storage = new SqliteStorage({ path: `${dir}/bench.sqlite` })
  try {
    await importDocuments(storage, [{ name: DOCUMENT, state }])
  } finally {
    await storage.close()
  }
}

/**
 * @param {string} id a system of {@link systems}
 * @param {{ clients: number, seedBytes: number, warm: boolean, giveUpMs: number, timeoutMs: number }} plan
 */
export async function joinStorm (id, { clients: count, seedBytes, warm, giveUpMs, timeoutMs }) {
  const system = systems[id]
  const big = bigDocument(seedBytes)
  const dir = mkdtempSync(join(tmpdir(), 'fastify-collab-joins-'))
  try {
    if (system.sqlite) await seedSqlite(dir, big.state)
    const server = await startServer(system.module, system.sqlite ? { sqlite: dir } : { seed: big.file, seedDocument: DOCUMENT })
    const target = { port: server.port, path: `/collab/${DOCUMENT}` }
    const make = (clientID) => new CollabClient(target, {
      protocol: system.protocol,
      documentName: DOCUMENT,
      clientID,
      awareness: { user: { name: `user ${clientID}`, color: '#30bced' } },
      truncateOver: 1 << 16
    })
    const all = []
    try {
      let warmSeconds = NaN
      if (warm) {
        const first = make(100000)
        all.push(first)
        const t = performance.now()
        await withTimeout(first.connect(), timeoutMs, 'warm-up join')
        warmSeconds = (performance.now() - t) / 1000
      }
      await server.usage({ gc: true })
      const cpuBefore = procCpuSeconds(server.pid)
      const memoryBefore = procMemory(server.pid)
      await server.profile('start', `joins-${warm ? 'warm' : 'cold'}`)
      const clients = Array.from({ length: count }, (_, i) => make(i + 1))
      all.push(...clients)
      const t0 = performance.now()
      const times = new Array(count).fill(Infinity)
      const errors = []
      const joined = Promise.all(clients.map((c, i) => c.connect().then(
        () => { times[i] = (performance.now() - t0) / 1000 },
        (error) => { errors.push(error.message) })))
      let gaveUp = false
      await withTimeout(joined, giveUpMs, 'join storm').catch(() => { gaveUp = true })
      const wall = (performance.now() - t0) / 1000
      // What stood when the storm ended or was given up (the answers still coming are not counted).
      const synced = times.filter((t) => t <= wall)
      const memoryAfter = procMemory(server.pid)
      const cpuSeconds = procCpuSeconds(server.pid) - cpuBefore
      // A server given up on may still be encoding for minutes: its profile is not waited for then.
      if (!gaveUp) await withTimeout(server.profile('stop', `joins-${warm ? 'warm' : 'cold'}`), timeoutMs, 'profile')
      // Clients the server closed after they synced (e.g. 1013 when a send passed maxBufferedAmount).
      const closed = clients.filter((c) => c.closed instanceof Error)
      const bytes = clients.map((c) => c.syncBytes).filter((b) => b > 0)
      if (errors.length > 0 && synced.length === 0) throw new Error(`no client joined: ${errors[0]}`)
      // Seconds past the give-up are unknown: those figures are left out (null), and `gaveUp` says why.
      const at = (q) => {
        const sorted = [...times].sort((a, b) => a - b)
        const t = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
        return t <= wall ? t : null
      }
      return {
        gaveUp: gaveUp ? 1 : 0,
        seconds: gaveUp || errors.length > 0 ? null : Math.max(...times),
        p50Seconds: at(0.5),
        firstSeconds: at(0),
        synced: synced.length,
        failed: errors.length,
        closedBy: closed.length,
        ...(closed.length > 0 ? { firstClose: closed[0].closed.message } : {}),
        warmSeconds,
        cpuSeconds,
        serverShare: cpuSeconds / wall,
        rssBeforeMiB: memoryBefore.rss / 1048576,
        peakRssMiB: memoryAfter.peak / 1048576,
        rssAfterMiB: memoryAfter.rss / 1048576,
        documentMiB: big.bytes / 1048576,
        syncMiBMin: Math.min(...bytes) / 1048576,
        syncMiBMax: Math.max(...bytes) / 1048576,
        ...(errors.length > 0 ? { firstError: errors[0] } : {})
      }
    } finally {
      for (const c of all) c.close()
      await server.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
