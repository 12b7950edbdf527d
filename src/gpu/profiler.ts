/**
 * Per-kernel GPU time from `timestamp-query`. While enabled, every dispatch runs in its own compute
 * pass whose begin/end timestamps are recorded; `collect()` reads them back and sums time per kernel.
 * Profiling changes batching (one pass per dispatch), so use it to find hot kernels, not for totals.
 */

const CAPACITY = 2048; // timestamps per batch (two per dispatch)

/** Accumulated GPU time of one kernel label. */
export interface KernelTime {
  count: number;
  ms: number;
}

export class Profiler {
  /** Set to true to time every following dispatch. */
  enabled = false;
  private querySet: GPUQuerySet;
  private resolveBuf: GPUBuffer;
  private labels: string[] = [];
  private pending: { buf: GPUBuffer; labels: string[] }[] = [];
  private totals = new Map<string, KernelTime>();

  /** `submit` submits the runtime's pending work, so that collect() also sees the current batch. */
  constructor(
    private readonly device: GPUDevice,
    private readonly submit: () => void = () => {},
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY });
    this.resolveBuf = device.createBuffer({ size: CAPACITY * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** True when the current batch has no room for another dispatch. */
  get full(): boolean {
    return this.labels.length * 2 >= CAPACITY;
  }

  /** The timestampWrites for the next dispatch, recorded under `label`. */
  slot(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.length * 2;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Encodes the resolve of this batch's timestamps into a readable buffer. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length * 2;
    if (n === 0) return;
    const buf = this.device.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolveBuf, 0);
    encoder.copyBufferToBuffer(this.resolveBuf, 0, buf, 0, n * 8);
    this.pending.push({ buf, labels: this.labels });
    this.labels = [];
  }

  /** Called after submit; nothing to do today, kept for symmetry with the pools. */
  submitted(): void {}

  /** Submits pending work, reads every resolved batch and returns the accumulated time per kernel label. */
  async collect(): Promise<Map<string, KernelTime>> {
    if (this.labels.length > 0) this.submit();
    const batches = this.pending;
    this.pending = [];
    for (const { buf, labels } of batches) {
      await buf.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(buf.getMappedRange());
      labels.forEach((label, i) => {
        // Clamped: an implementation may quantise both stamps of a short pass differently.
        const ns = Math.max(0, Number(t[2 * i + 1]! - t[2 * i]!));
        const acc = this.totals.get(label) ?? { count: 0, ms: 0 };
        acc.count++;
        acc.ms += ns / 1e6;
        this.totals.set(label, acc);
      });
      buf.unmap();
      buf.destroy();
    }
    return new Map(this.totals);
  }

  /** Forgets accumulated totals. */
  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}
