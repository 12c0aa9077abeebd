// Delivery latency of every update to every receiver, for the capacity search
// (issue 17): a fixed-bin histogram, so that recording one of the N² × count
// deliveries costs one array increment on the load generator.
const BIN_MS = 0.25
const BINS = 4 * 60_000 // up to 60 s; later deliveries land in the last bin

export class LatencyHistogram {
  constructor () {
    this.bins = new Uint32Array(BINS)
    this.count = 0
    this.max = 0
  }

  add (ms) {
    const bin = ms <= 0 ? 0 : Math.min(BINS - 1, Math.floor(ms / BIN_MS))
    this.bins[bin]++
    this.count++
    if (ms > this.max) this.max = ms
  }

  /** The latency (ms, upper edge of its bin) under which a share `q` of the deliveries fell. */
  quantile (q) {
    if (this.count === 0) return NaN
    const target = Math.ceil(q * this.count)
    let seen = 0
    for (let i = 0; i < BINS; i++) {
      seen += this.bins[i]
      if (seen >= target) return Math.min((i + 1) * BIN_MS, this.max)
    }
    return this.max
  }
}

/**
 * Tracks the send time of update k of client i (Yjs client ID i + 1; each
 * update is one clock unit) and, through CollabClient's onReceive, the delay
 * of every delivery of it.
 */
export class DeliveryTimer {
  constructor (clients, count) {
    this.sentAt = Array.from({ length: clients }, () => new Float64Array(count).fill(NaN))
    this.histogram = new LatencyHistogram()
    this.onReceive = (client, end, from) => {
      const sent = this.sentAt[client - 1]
      if (sent === undefined) return
      const now = performance.now()
      for (let k = from; k < end && k < sent.length; k++) {
        if (!Number.isNaN(sent[k])) this.histogram.add(now - sent[k])
      }
    }
  }

  sent (i, k) {
    this.sentAt[i][k] = performance.now()
  }
}
