/**
 * The DataLoader's worker threads (Node only). loader.ts imports this module under a computed name
 * at run time, so the browser bundle never sees `node:worker_threads`; the build emits it as its
 * own file next to the Node bundles (dist/node/worker-pool.js, with dist/node/worker-entry.js).
 *
 * Each worker rebuilds the dataset from its recipe and prepares whole host batches with the same
 * function as the calling thread (loader.ts prepareHostBatch), so results are bit-identical; the
 * batch's typed arrays come back transferred, not copied. A worker is unref'd while it has no job,
 * so an abandoned loader never keeps the process alive, and ref'd while a batch is awaited.
 *
 * Started from TypeScript sources (tsx, vitest) the entry is worker-entry.ts, loaded through
 * tsx's `tsImport` in an eval'd bootstrap: Node 20 applies no `--import tsx` hooks in a worker.
 * From the built files it is plain worker-entry.js.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WebmtlError } from '../errors.js';
import type { AugmentOptions } from './augment.js';
import type { HostBatch } from './batch.js';
import type { DatasetRecipe } from './loader.js';
import type { SampleTask } from './sample.js';

/** What every worker of a pool starts with (its workerData). */
export interface WorkerInit {
  readonly recipe: DatasetRecipe;
  readonly seed: number;
  readonly augment?: AugmentOptions;
  readonly tasks: readonly SampleTask[];
}

/** A job: prepare the batch of these dataset indices for this epoch. */
export interface WorkerRequest {
  readonly id: number;
  readonly indices: readonly number[];
  readonly epoch: number;
}

/** An error as it crosses threads: class name, message, stack and the plain own fields (path, problem, op ...). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly props: Record<string, unknown>;
  readonly cause?: SerializedError;
}

/** A worker's answer to a {@link WorkerRequest}. */
export type WorkerReply = { readonly id: number; readonly batch: HostBatch } | { readonly id: number; readonly error: SerializedError };

/** `e` as plain data: the own fields that structured clone can copy, and its cause (two levels deep). */
export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), props: {} };
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'cause') continue;
    try {
      props[k] = structuredClone(v);
    } catch {
      // a field that cannot cross threads (a function, a handle) is left behind
    }
  }
  const cause = (e as { cause?: unknown }).cause;
  return {
    name: e.name,
    message: e.message,
    ...(e.stack !== undefined && { stack: e.stack }),
    props,
    ...(cause !== undefined && depth < 2 && { cause: serializeError(cause, depth + 1) }),
  };
}

/** The typed arrays of a host batch, to transfer rather than copy. */
export function batchTransferList(b: HostBatch): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>([b.input.buffer as ArrayBuffer]);
  for (const t of Object.values(b.targets)) {
    out.add(t.target.buffer as ArrayBuffer);
    if (t.mask) out.add(t.mask.buffer as ArrayBuffer);
  }
  return [...out];
}

/** file: URL of tsx's ESM API (`tsx/esm/api`), read from tsx's own exports map. */
function tsxEsmApi(): string {
  try {
    const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
    return pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
  } catch (e) {
    throw new WebmtlError(
      `DataLoader: worker threads started from TypeScript sources need tsx (npm i -D tsx) to load src/data/worker-entry.ts (${(e as Error).message}); ` +
        'or run the built package (npm run build), whose worker entry is plain JavaScript',
    );
  }
}

/** Starts one worker on worker-entry.ts (through tsx) or worker-entry.js, whichever sits next to this file. */
function startWorker(init: WorkerInit): Worker {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) {
    const entry = JSON.stringify(new URL('./worker-entry.ts', here).href);
    const boot = `import(${JSON.stringify(tsxEsmApi())}).then(({ tsImport }) => tsImport(${entry}, ${entry}))`;
    return new Worker(boot, { eval: true, workerData: init, execArgv: [] });
  }
  return new Worker(new URL('./worker-entry.js', here), { workerData: init });
}

interface Job {
  readonly resolve: (b: HostBatch) => void;
  readonly reject: (e: Error) => void;
  readonly worker: number;
}

/**
 * A fixed set of worker threads preparing host batches. `run` hands a job to the least busy live
 * worker; `close` terminates them all and rejects the jobs still in flight. `revive` turns a
 * worker's serialised error back into the caller's typed error class (it must come from the
 * caller's module graph: a bundle of this file has its own copies of the classes).
 */
export class WorkerPool {
  private readonly workers: (Worker | null)[] = [];
  private readonly busy: number[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private closed = false;

  constructor(
    size: number,
    init: WorkerInit,
    private readonly revive: (e: SerializedError) => Error,
  ) {
    for (let i = 0; i < size; i++) {
      const w = startWorker(init);
      w.unref();
      w.on('message', (m: WorkerReply) => this.settle(m));
      w.on('error', (e) => this.fail(i, this.revive(serializeError(e))));
      w.on('exit', (code) => this.fail(i, new WebmtlError(`DataLoader: worker thread ${i} exited (code ${code}) before finishing its batch`)));
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  /** Number of workers still running. */
  get live(): number {
    return this.workers.filter((w) => w !== null).length;
  }

  /** The host batch of `indices` in epoch `epoch`, prepared by a worker. */
  run(indices: readonly number[], epoch: number): Promise<HostBatch> {
    if (this.closed) return Promise.reject(new WebmtlError('DataLoader: its worker threads were closed'));
    let best = -1;
    for (let i = 0; i < this.workers.length; i++) if (this.workers[i] && (best < 0 || this.busy[i]! < this.busy[best]!)) best = i;
    if (best < 0) return Promise.reject(new WebmtlError('DataLoader: every worker thread has exited'));
    const id = this.nextId++;
    const w = this.workers[best]!;
    if (this.busy[best]!++ === 0) w.ref();
    return new Promise<HostBatch>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, worker: best });
      w.postMessage({ id, indices: [...indices], epoch } satisfies WorkerRequest);
    });
  }

  /** Terminates every worker; jobs in flight reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = this.workers.splice(0).filter((w): w is Worker => w !== null);
    for (const job of this.jobs.values()) job.reject(new WebmtlError('DataLoader: its worker threads were closed'));
    this.jobs.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private release(i: number): void {
    if (--this.busy[i]! === 0) this.workers[i]?.unref();
  }

  private settle(m: WorkerReply): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    this.jobs.delete(m.id);
    this.release(job.worker);
    if ('error' in m) job.reject(this.revive(m.error));
    else job.resolve(m.batch);
  }

  /** Worker `i` died: its jobs reject with `err` and it takes no more. */
  private fail(i: number, err: Error): void {
    if (this.closed || !this.workers[i]) return;
    this.workers[i] = null;
    for (const [id, job] of this.jobs) {
      if (job.worker === i) {
        this.jobs.delete(id);
        job.reject(err);
      }
    }
  }
}
