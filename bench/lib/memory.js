// Per-connection memory: the growth of a server's memory between two full-GC
// snapshots, divided by the number of connections opened in between.
export function perConnection (before, after, connections) {
  const heap = (m) => m.heapUsed + m.external
  return {
    heap: (heap(after.memory) - heap(before.memory)) / connections,
    external: (after.memory.external - before.memory.external) / connections,
    rss: (after.memory.rss - before.memory.rss) / connections
  }
}
