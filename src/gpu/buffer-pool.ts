/**
 * Size-bucketed GPU buffer pool. Buffers freed during a batch wait in `pending` until the batch
 * that may still use them has been submitted; only then can a later `queue.writeBuffer` (which runs
 * before any not-yet-submitted commands) safely target them.
 */

/** Bytes of the bucket a request of `bytes` lands in: powers of two split into quarters, >= 256. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const q = p / 4;
  return Math.ceil(bytes / q) * q;
}

/** Counters describing the pool; `live` counts buffers handed out and not yet released. */
export interface PoolStats {
  live: number;
  liveBytes: number;
  peakLiveBytes: number;
  pooled: number;
  pooledBytes: number;
  created: number;
}

/**
 * A request may take a free buffer up to this many times its bucket's size rather than create one.
 * Exact buckets alone keep each bucket's own peak, whose sum outgrows the peak of live bytes; on a
 * ResNet-18 step at 2x240x320 on lavapipe, taking up to 2x cut the peak RSS from 862 to 763 MiB and
 * the free buffers from 445 to 386 MiB, for 2% more live bytes (bench/README.md, "Scale").
 */
const FIT = 2;

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private pendingTotal = 0;
  private stats: PoolStats = { live: 0, liveBytes: 0, peakLiveBytes: 0, pooled: 0, pooledBytes: 0, created: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly maxPooledBytes = 1 << 30,
  ) {}

  /**
   * A buffer of at least `bytes` bytes (its real size is the bucket size, or `cap` when the bucket
   * would exceed it: the runtime keeps buffers that fit one binding within the binding limit).
   */
  acquire(bytes: number, cap = Infinity): GPUBuffer {
    const size = Math.max(Math.min(bucketSize(bytes), cap), Math.ceil(bytes / 4) * 4);
    let list = this.free.get(size);
    if (!list?.length) list = this.larger(size, Math.min(size * FIT, cap));
    let buf = list?.pop();
    if (buf) {
      this.stats.pooled--;
      this.stats.pooledBytes -= buf.size;
    } else {
      buf = this.device.createBuffer({ size, usage: this.usage });
      this.stats.created++;
    }
    this.stats.live++;
    this.stats.liveBytes += buf.size;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    return buf;
  }

  /** The free list of the smallest non-empty bucket above `size` and at most `most` bytes. */
  private larger(size: number, most: number): GPUBuffer[] | undefined {
    let best: number | undefined;
    for (const [sz, list] of this.free) if (sz > size && sz <= most && list.length && (best === undefined || sz < best)) best = sz;
    return best === undefined ? undefined : this.free.get(best);
  }

  /** Returns a buffer; it becomes reusable after the next `submitted()`. */
  release(buf: GPUBuffer): void {
    this.stats.live--;
    this.stats.liveBytes -= buf.size;
    this.pending.push(buf);
    this.pendingTotal += buf.size;
  }

  /** Bytes of released buffers that wait for the next submit. */
  get pendingBytes(): number {
    return this.pendingTotal;
  }

  /** Called after a queue submit: pending buffers are now safe to hand out again. */
  submitted(): void {
    for (const buf of this.pending) {
      if (this.stats.pooledBytes + buf.size > this.maxPooledBytes) {
        buf.destroy();
        continue;
      }
      let list = this.free.get(buf.size);
      if (!list) this.free.set(buf.size, (list = []));
      list.push(buf);
      this.stats.pooled++;
      this.stats.pooledBytes += buf.size;
    }
    this.pending = [];
    this.pendingTotal = 0;
  }

  /** Destroys every pooled (free) buffer; live ones are untouched. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooled = 0;
    this.stats.pooledBytes = 0;
  }

  /** A snapshot of the counters. */
  getStats(): PoolStats {
    return { ...this.stats };
  }

  /** Resets the peak to the current live bytes (for measuring one phase). */
  resetPeak(): void {
    this.stats.peakLiveBytes = this.stats.liveBytes;
  }
}
