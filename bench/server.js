// Child-process entry for one system under test. The runner starts it pinned
// to core 0 (`taskset -c 0`), with --expose-gc, and talks to it over IPC:
//   -> { id, cmd: 'usage', gc }   <- { id, cpu: process.cpuUsage(), memory: process.memoryUsage(), spaces }
//      (spaces: V8's heap spaces, each { name, size, used } in bytes)
//   -> { id, cmd: 'stats' }       <- { id, stats }   what the system's stats() tells (documents, timers), if it has one
//   -> { id, cmd: 'stop' }        <- { id }   then the process exits
//   -> { id, cmd: 'profile', action: 'start' }              starts V8's CPU profiler (node:inspector)
//   -> { id, cmd: 'profile', action: 'stop', file }  <- { id }   stops it and writes the .cpuprofile to `file`
//      (BENCH_PROFILE=<dir>: the measurements profile their measured phase only, see lib/server-process.js)
// process.cpuUsage() is getrusage(RUSAGE_SELF): every thread of the process,
// so V8's GC and libuv threads are counted.
import v8 from 'node:v8'
const [moduleName, optionsJson] = process.argv.slice(2)
const { start } = await import(new URL(`./servers/${moduleName}.js`, import.meta.url))
const server = await start(JSON.parse(optionsJson ?? '{}'))
let inspector = null

process.on('message', async ({ id, cmd, gc, action, file }) => {
  if (cmd === 'usage') {
    if (gc) {
      // Two passes: the first may only queue finalizers for the second.
      global.gc()
      await new Promise((resolve) => setImmediate(resolve))
      global.gc()
    }
    process.send({ id, cpu: process.cpuUsage(), memory: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics().map(({ space_name: name, space_size: size, space_used_size: used }) => ({ name, size, used })) })
  } else if (cmd === 'profile') {
    const { Session } = await import('node:inspector')
    const post = (method, params) => new Promise((resolve, reject) => inspector.post(method, params, (error, result) => error ? reject(error) : resolve(result)))
    if (action === 'start') {
      inspector ??= new Session()
      inspector.connect()
      await post('Profiler.enable')
      await post('Profiler.setSamplingInterval', { interval: 200 })
      await post('Profiler.start')
    } else {
      const { profile } = await post('Profiler.stop')
      const { writeFileSync } = await import('node:fs')
      writeFileSync(file, JSON.stringify(profile))
      inspector.disconnect()
    }
    process.send({ id })
  } else if (cmd === 'stats') {
    process.send({ id, stats: server.stats?.() ?? null })
  } else if (cmd === 'stop') {
    await server.close()
    process.send({ id }, () => process.exit(0))
  }
})
process.send({ ready: true, port: server.port })
