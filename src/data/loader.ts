/**
 * DataLoader: batches of a Dataset in a seeded order, optionally augmented, prepared ahead of
 * the consumer. While the caller runs a training step on batch k, batches k+1 .. k+prefetch are
 * being read, decoded, augmented and stacked on the host (collateHost); a batch becomes GPU
 * tensors (toDevice) only when the caller takes it, so prefetching holds no GPU memory.
 *
 * Reproducibility: the order of epoch e depends only on (seed, e), and the augmentation of a
 * sample only on (seed, e, dataset index), never on timing, on how many batches are in flight or
 * on which thread prepared them. With `workers: 0` host preparation runs on the calling thread
 * (reads overlap GPU work and each other, decoding does not); with `workers: n` it runs in n Node
 * worker threads (worker-pool.ts, imported under a computed name when first needed), which rebuild
 * the dataset from its {@link DatasetRecipe}. No Node built-ins here, so it runs in a browser too.
 */
import { ArgumentError, ShapeError, WebmtlError } from '../errors.js';
import { FormatError } from '../io/errors.js';
import type { MultiTaskBatch } from './batch-contract.js';
import { Generator } from '../tensor/random.js';
import { augment, type AugmentOptions } from './augment.js';
import { collateHost, toDevice, type HostBatch } from './batch.js';
import { DatasetError } from './errors.js';
import type { NyudRecipe } from './nyud.js';
import type { PascalContextRecipe } from './pascal-context.js';
import type { Dataset, Sample, SampleTask } from './sample.js';
import type { SyntheticRecipe } from './synthetic/dataset.js';
import type { SerializedError, WorkerPool } from './worker-pool.js';
import { mix32 } from './synthetic/rng.js';

/**
 * Plain data from which a worker thread rebuilds a dataset: what the built-in datasets' `recipe()`
 * returns. A dataset of your own has none, so it cannot be used with `workers`.
 */
export type DatasetRecipe = SyntheticRecipe | NyudRecipe | PascalContextRecipe;

/** A dataset that can describe itself to a worker thread. */
export interface RecipeDataset extends Dataset {
  recipe(): DatasetRecipe;
}

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
  /** Batches prepared ahead of the one the caller holds (default 2; 0 prepares on demand; at least `workers`). */
  readonly prefetch?: number;
  /**
   * Worker threads preparing host batches (default 0: the calling thread). Node only; the dataset
   * must have a `recipe()` (the built-in ones do) and `augment` must be AugmentOptions, not a
   * function. Results are bit-identical to `workers: 0`. The threads live for one iteration of
   * hostBatches/epoch and are terminated when it ends or is broken off (or at close()).
   */
  readonly workers?: number;
}

/** What, besides the dataset, decides a prepared batch: the same on every thread. */
export interface PrepareSettings {
  readonly seed: number;
  readonly augment?: AugmentOptions | AugmentFn;
  readonly tasks: readonly SampleTask[];
}

/** 32-bit mix of a few integers (murmur3's finaliser over a running FNV-style xor). */
function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) h = mix32(Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0);
  return h;
}

/** One sample, augmented with its own generator (seeded by seed, epoch and index). */
async function prepareSample(dataset: Dataset, index: number, epoch: number, settings: PrepareSettings): Promise<Sample> {
  const s = await dataset.get(index);
  const aug = settings.augment;
  if (!aug) return s;
  const rng = new Generator(mix(settings.seed, epoch, index, 0xa46));
  return typeof aug === 'function' ? aug(s, rng) : augment(s, aug, rng);
}

/**
 * Reads, augments and stacks the samples `indices` of `dataset` for epoch `epoch` (reads run
 * concurrently). The one definition of a batch, used by the DataLoader and by its worker threads.
 */
export async function prepareHostBatch(dataset: Dataset, indices: readonly number[], epoch: number, settings: PrepareSettings): Promise<HostBatch> {
  const samples = await Promise.all(indices.map((i) => prepareSample(dataset, i, epoch, settings)));
  return collateHost(samples, settings.tasks);
}

// The error classes a worker may throw on the data path; others come back as WebmtlError or Error.
const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = { DatasetError, FormatError, ArgumentError, ShapeError, WebmtlError };

/** A worker's serialised error as an instance of the same class (instanceof and fields intact), with the worker's stack. */
function reviveError(e: SerializedError): Error {
  const cls = ERROR_CLASSES[e.name];
  const err: Error = cls ? Reflect.construct(WebmtlError, [e.message], cls) : Object.assign(new Error(e.message), { name: e.name });
  Object.assign(err, e.props);
  if (e.stack) err.stack = `${e.stack}\n    at (DataLoader worker thread)`;
  if (e.cause) (err as { cause?: unknown }).cause = reviveError(e.cause);
  return err;
}

/** Batches of a dataset; iterate `epoch(e)` (tensors) or `hostBatches(e)` (host arrays). */
export class DataLoader {
  readonly batchSize: number;
  readonly tasks: readonly SampleTask[];
  /** Worker threads per iteration (0: the calling thread). */
  readonly workers: number;
  private readonly prefetch: number;
  private readonly pools = new Set<WorkerPool>();
  private nextEpoch = 0;

  constructor(
    readonly dataset: Dataset,
    readonly options: DataLoaderOptions,
  ) {
    const { batchSize, prefetch = 2 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError('DataLoader', `batchSize must be a positive integer (got ${batchSize})`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new ArgumentError('DataLoader', `prefetch must be a non-negative integer (got ${prefetch})`);
    const { workers = 0 } = options;
    if (!Number.isInteger(workers) || workers < 0) throw new ArgumentError('DataLoader', `workers must be a non-negative integer (got ${workers})`);
    if (workers > 0 && typeof (dataset as Partial<RecipeDataset>).recipe !== 'function') {
      throw new ArgumentError('DataLoader', `workers need a dataset recipe to rebuild ${dataset.info.name} in each thread, and this dataset has no recipe(); use workers: 0, or give it a recipe() (see DatasetRecipe)`);
    }
    if (workers > 0 && typeof options.augment === 'function') {
      throw new ArgumentError('DataLoader', 'an augmentation function cannot cross into worker threads; with workers, pass AugmentOptions (plain data), or use workers: 0');
    }
    this.batchSize = batchSize;
    this.workers = workers;
    this.prefetch = Math.max(prefetch, workers);
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
    return prepareSample(this.dataset, index, epoch, this.settings);
  }

  /** Reads, augments and stacks one batch on the calling thread (reads of its samples run concurrently). */
  async prepare(indices: readonly number[], epoch: number): Promise<HostBatch> {
    return prepareHostBatch(this.dataset, indices, epoch, this.settings);
  }

  private get settings(): PrepareSettings {
    const { seed = 0, augment } = this.options;
    return { seed, ...(augment && { augment }), tasks: this.tasks };
  }

  /** Starts `workers` threads for one iteration (worker-pool.ts is loaded here, under a computed name). */
  private async openPool(): Promise<WorkerPool> {
    const name = './worker-pool.js';
    let mod: typeof import('./worker-pool.js');
    try {
      mod = (await import(/* @vite-ignore */ name)) as typeof import('./worker-pool.js');
    } catch (e) {
      throw new WebmtlError(`DataLoader: workers need Node's worker threads (${(e as Error).message}); use workers: 0 in a browser`);
    }
    const recipe = (this.dataset as RecipeDataset).recipe();
    const augment = this.options.augment as AugmentOptions | undefined;
    const pool = new mod.WorkerPool(this.workers, { recipe, seed: this.options.seed ?? 0, ...(augment && { augment }), tasks: this.tasks }, reviveError);
    this.pools.add(pool);
    return pool;
  }

  /** Number of worker threads running now, over every iteration in progress. */
  get liveWorkers(): number {
    let n = 0;
    for (const p of this.pools) n += p.live;
    return n;
  }

  /** Terminates the worker threads of every iteration in progress (their next batch rejects). */
  async close(): Promise<void> {
    const pools = [...this.pools];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /**
   * Host batches of epoch `epoch`, keeping `prefetch` batches in preparation while the caller holds
   * the current one. A failed batch rejects when the caller reaches it; breaking out early leaves
   * the batches in flight to finish and be dropped (with workers: the threads are terminated).
   */
  async *hostBatches(epoch: number): AsyncGenerator<HostBatch> {
    const groups = this.batchIndices(epoch);
    const pool = this.workers > 0 ? await this.openPool() : null;
    const inflight: Promise<HostBatch>[] = [];
    let next = 0;
    const fill = (target: number): void => {
      while (next < groups.length && inflight.length < target) {
        const g = groups[next++]!;
        const p = pool ? pool.run(g, epoch) : this.prepare(g, epoch);
        p.catch(() => undefined); // handled when awaited; avoids an unhandled rejection meanwhile
        inflight.push(p);
      }
    };
    try {
      fill(Math.max(1, this.prefetch));
      while (inflight.length > 0) {
        const batch = await inflight.shift()!;
        fill(this.prefetch);
        yield batch;
        fill(1);
      }
    } finally {
      if (pool) {
        this.pools.delete(pool);
        await pool.close();
      }
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
