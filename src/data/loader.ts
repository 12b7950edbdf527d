/**
 * DataLoader: batches of a Dataset in a seeded order, optionally augmented, prepared ahead of
 * the consumer. While the caller runs a training step on batch k, batches k+1 .. k+prefetch are
 * being read, decoded, augmented and stacked on the host (collateHost); a batch becomes GPU
 * tensors (toDevice) only when the caller takes it, so prefetching holds no GPU memory.
 *
 * Reproducibility: the order of epoch e depends only on (seed, e), and the augmentation of a
 * sample only on (seed, e, dataset index), never on timing or on how many batches are in flight.
 * Host preparation runs on the calling thread: reads overlap GPU work and each other, decoding
 * does not (worker threads are a follow-up). No Node built-ins here, so it runs in a browser too.
 */
import { ArgumentError } from '../errors.js';
import type { MultiTaskBatch } from '../mtl/task.js';
import { Generator } from '../tensor/random.js';
import { augment, type AugmentOptions } from './augment.js';
import { collateHost, toDevice, type HostBatch } from './batch.js';
import type { Dataset, Sample, SampleTask } from './sample.js';

/** A custom augmentation: a new sample from `s`, drawing randomness only from `rng`. */
export type AugmentFn = (s: Sample, rng: Generator) => Sample;

/** Options of a {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch. */
  readonly batchSize: number;
  /** Shuffle the order each epoch (default false: dataset order). */
  readonly shuffle?: boolean;
  /** Seed of the order and of the augmentation (default 0). */
  readonly seed?: number;
  /** Leave out the last batch when it is smaller than batchSize (default false). */
  readonly dropLast?: boolean;
  /** Tasks to put in each batch (default: the dataset's). */
  readonly tasks?: readonly SampleTask[];
  /** Augmentation settings (see augment.ts) or a function; none by default. */
  readonly augment?: AugmentOptions | AugmentFn;
  /** Batches prepared ahead of the one the caller holds (default 2; 0 prepares on demand). */
  readonly prefetch?: number;
}

/** 32-bit mix of a few integers (murmur3's finaliser over a running xor). */
function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Batches of a dataset; iterate `epoch(e)` (tensors) or `hostBatches(e)` (host arrays). */
export class DataLoader {
  readonly batchSize: number;
  readonly tasks: readonly SampleTask[];
  private readonly prefetch: number;
  private nextEpoch = 0;

  constructor(
    readonly dataset: Dataset,
    readonly options: DataLoaderOptions,
  ) {
    const { batchSize, prefetch = 2 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError('DataLoader', `batchSize must be a positive integer (got ${batchSize})`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new ArgumentError('DataLoader', `prefetch must be a non-negative integer (got ${prefetch})`);
    this.batchSize = batchSize;
    this.prefetch = prefetch;
    this.tasks = options.tasks ?? dataset.info.tasks;
    for (const t of this.tasks) {
      if (!dataset.info.tasks.includes(t)) throw new ArgumentError('DataLoader', `task '${t}' is not carried by ${dataset.info.name} (it has ${dataset.info.tasks.join(', ')})`);
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.options.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices of epoch `epoch` in the order they are served (a seeded Fisher-Yates shuffle). */
  order(epoch: number): number[] {
    const idx = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (!this.options.shuffle) return idx;
    const rng = new Generator(mix(this.options.seed ?? 0, epoch, 0x5107));
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return idx;
  }

  /** The index groups of epoch `epoch`, one per batch. */
  batchIndices(epoch: number): number[][] {
    const order = this.order(epoch);
    const out: number[][] = [];
    for (let b = 0; b < this.length; b++) out.push(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }

  /** One sample, augmented with its own generator (seeded by seed, epoch and index). */
  async sample(index: number, epoch: number): Promise<Sample> {
    const s = await this.dataset.get(index);
    const aug = this.options.augment;
    if (!aug) return s;
    const rng = new Generator(mix(this.options.seed ?? 0, epoch, index, 0xa46));
    return typeof aug === 'function' ? aug(s, rng) : augment(s, aug, rng);
  }

  /** Reads, augments and stacks one batch on the host (reads of its samples run concurrently). */
  async prepare(indices: readonly number[], epoch: number): Promise<HostBatch> {
    const samples = await Promise.all(indices.map((i) => this.sample(i, epoch)));
    return collateHost(samples, this.tasks);
  }

  /**
   * Host batches of epoch `epoch`, keeping `prefetch` batches in preparation while the caller holds
   * the current one. A failed batch rejects when the caller reaches it; breaking out early leaves
   * the batches in flight to finish and be dropped.
   */
  async *hostBatches(epoch: number): AsyncGenerator<HostBatch> {
    const groups = this.batchIndices(epoch);
    const inflight: Promise<HostBatch>[] = [];
    let next = 0;
    const fill = (target: number): void => {
      while (next < groups.length && inflight.length < target) {
        const p = this.prepare(groups[next++]!, epoch);
        p.catch(() => undefined); // handled when awaited; avoids an unhandled rejection meanwhile
        inflight.push(p);
      }
    };
    fill(Math.max(1, this.prefetch));
    while (inflight.length > 0) {
      const batch = await inflight.shift()!;
      fill(this.prefetch);
      yield batch;
      fill(1);
    }
  }

  /** GPU batches of epoch `epoch` (see hostBatches); the caller owns each batch's tensors (disposeBatch). */
  async *epoch(epoch: number): AsyncGenerator<MultiTaskBatch> {
    for await (const host of this.hostBatches(epoch)) yield toDevice(host);
  }

  /** Iterates the next epoch (0, 1, 2, ... on successive loops). */
  [Symbol.asyncIterator](): AsyncGenerator<MultiTaskBatch> {
    return this.epoch(this.nextEpoch++);
  }
}
