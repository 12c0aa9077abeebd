// Child-process entry for one system under test. The runner starts it pinned
// to core 0 (`taskset -c 0`), with --expose-gc, and talks to it over IPC:
//   -> { id, cmd: 'usage', gc }   <- { id, cpu: process.cpuUsage(), memory: process.memoryUsage() }
//   -> { id, cmd: 'stats' }       <- { id, stats }   what the system's stats() tells (documents, timers), if it has one
//   -> { id, cmd: 'stop' }        <- { id }   then the process exits
// process.cpuUsage() is getrusage(RUSAGE_SELF): every thread of the process,
// so V8's GC and libuv threads are counted.
const [moduleName, optionsJson] = process.argv.slice(2)
const { start } = await import(new URL(`./servers/${moduleName}.js`, import.meta.url))
const server = await start(JSON.parse(optionsJson ?? '{}'))

process.on('message', async ({ id, cmd, gc }) => {
  if (cmd === 'usage') {
    if (gc) {
      // Two passes: the first may only queue finalizers for the second.
      global.gc()
      await new Promise((resolve) => setImmediate(resolve))
      global.gc()
    }
    process.send({ id, cpu: process.cpuUsage(), memory: process.memoryUsage() })
  } else if (cmd === 'stats') {
    process.send({ id, stats: server.stats?.() ?? null })
  } else if (cmd === 'stop') {
    await server.close()
    process.send({ id }, () => process.exit(0))
  }
})
process.send({ ready: true, port: server.port })
