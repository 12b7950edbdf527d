/**
 * `webmtl train`: runs a configuration into a run folder (config.json, metrics.jsonl,
 * checkpoints/last.safetensors, samples/, report.html). Progress is shown per step; validation runs
 * every `evalEvery` epochs; a checkpoint is written every `checkpointEvery` epochs, at the end, and
 * when the run is interrupted (Ctrl-C or an AbortSignal), mid-epoch included: `--resume` continues
 * from it, skipping the batches of the interrupted epoch that were already trained on.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';
import { DataLoader } from '../data/loader.js';
import { toDevice } from '../data/batch.js';
import { deltaMTL } from '../mtl/metrics/delta-mtl.js';
import { surveyDirections } from './survey-metrics.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import { Trainer, disposeBatch } from '../mtl/trainer.js';
import { runtime } from '../tensor/context.js';
import { evaluateBaselines } from './baselines.js';
import { buildRun, type RunObjects } from './build.js';
import { parseConfig, type RunConfig } from './config.js';
import { checkHostLabels } from './check-labels.js';
import { Progress } from './progress.js';
import type { BaselineRecord, EpochRecord, FinalRecord, StepRecord } from './run-files.js';
import type { Task } from '../mtl/task.js';

/** Options of {@link trainRun}. */
export interface TrainRunOptions {
  /** The run folder (created; must not hold a run unless `resume`). */
  dir: string;
  /** The configuration (ignored when resuming: the folder's config.json is used). */
  config?: RunConfig;
  /** Continue the run in `dir` from its last checkpoint. */
  resume?: boolean;
  /** Show progress (default true). */
  progress?: boolean;
  /** Stop (with a checkpoint) when this signal aborts; Ctrl-C does the same through the CLI. */
  signal?: AbortSignal;
  /** Single-task baselines for ΔMTL: task -> metric -> value (e.g. from `webmtl compare`). */
  baselines?: TaskMetrics;
  /** Called with each message the run prints outside the progress bar. */
  log?: (message: string) => void;
  /** Called after every optimisation step with the number of steps taken (e.g. to stop a run). */
  onStep?: (steps: number) => void;
  /** Writes samples and the report at the end (default true). */
  finish?: (run: FinishedRun) => Promise<void>;
}

/** What a run leaves for the report stage. */
export interface FinishedRun {
  dir: string;
  config: RunConfig;
  objects: RunObjects;
  trainer: Trainer;
}

/** The outcome of {@link trainRun}. */
export interface TrainRunResult {
  dir: string;
  steps: number;
  epochs: number;
  /** Validation metrics after the last epoch (null when interrupted before any). */
  final: TaskMetrics | null;
  baseline: TaskMetrics | null;
  interrupted: boolean;
}

const CHECKPOINT = 'checkpoints/last.safetensors';

/** Every metric's direction per task, as the report wants it. */
function directions(tasks: readonly Task[]): Record<string, Record<string, boolean>> {
  return Object.fromEntries(tasks.map((t) => [t.name, Object.assign({}, ...t.metrics().map((m) => m.higherIsBetter)) as Record<string, boolean>]));
}

/** Appends JSON lines to the run's metrics.jsonl. */
async function appendLines(dir: string, lines: readonly object[]): Promise<void> {
  if (lines.length) await appendFile(join(dir, 'metrics.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

/** Trains `opts.config` (or resumes the run in `opts.dir`); see the file comment. */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const dir = opts.dir;
  const log = opts.log ?? ((m: string) => process.stdout.write(`${m}\n`));
  let config: RunConfig;
  if (opts.resume) {
    const path = join(dir, 'config.json');
    if (!existsSync(path)) throw new ArgumentError('train --resume', `${dir} holds no run (no config.json)`);
    config = parseConfig(JSON.parse(await readFile(path, 'utf8')), path);
    if (!existsSync(join(dir, CHECKPOINT))) throw new ArgumentError('train --resume', `${dir} has no checkpoint to resume from (${CHECKPOINT})`);
  } else {
    if (!opts.config) throw new ArgumentError('train', 'needs a configuration');
    config = opts.config;
    if (existsSync(join(dir, 'config.json'))) {
      throw new ArgumentError('train', `${dir} already holds a run; use --resume to continue it or choose another --out`);
    }
  }

  // Build first: a bad model or balancer spec fails before the run folder is created.
  const objects = await buildRun(config);
  if (!opts.resume) {
    await mkdir(join(dir, 'checkpoints'), { recursive: true });
    await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }
  const { data, tasks, model, balancer, optimizer, scheduler, stepsPerEpoch } = objects;
  const trainer = new Trainer({ model, tasks, balancer, optimizer, scheduler, logEvery: config.train.logEvery });
  const loaderOpts = { batchSize: config.train.batchSize, seed: config.seed, tasks: config.tasks, prefetch: config.train.prefetch };
  const trainLoader = new DataLoader(data.train, { ...loaderOpts, shuffle: true, dropLast: true, augment: data.trainAugment ?? undefined, workers: config.train.workers });
  const valLoader = new DataLoader(data.val, { ...loaderOpts, shuffle: false, augment: data.valAugment ?? undefined });
  const total = stepsPerEpoch * config.train.epochs;
  const valBatches = async function* () {
    for await (const h of valLoader.hostBatches(0)) yield toDevice(h);
  };

  let skip = 0;
  let baseline: TaskMetrics | null = null;
  if (opts.resume) {
    const extra = await trainer.loadCheckpoint(join(dir, CHECKPOINT));
    skip = typeof extra.batchInEpoch === 'number' ? extra.batchInEpoch : 0;
    log(`resuming ${dir} at step ${trainer.step} (epoch ${trainer.epoch}, batch ${skip})`);
  } else {
    // Trivial baselines from training-set statistics, evaluated like the model.
    baseline = await evaluateBaselines(tasks, objects.stats, valBatches(), disposeBatch);
    await appendLines(dir, [{ type: 'baseline', val: baseline, higherIsBetter: directions(tasks) } satisfies BaselineRecord]);
  }

  const progress = new Progress(total, trainer.step, process.stdout, opts.progress ?? true);
  // Messages go above the bar when it is shown, to the caller's log otherwise.
  const say = (m: string) => ((opts.progress ?? true) ? progress.log(m) : log(m));
  const t0 = performance.now();
  const pending: object[] = [];
  const onStepLog = (s: { step: number; epoch: number; losses: Record<string, number>; weights: Record<string, number> }) => {
    const rec: StepRecord = { type: 'step', step: s.step + 1, epoch: s.epoch, time: (performance.now() - t0) / 1000, lr: optimizer.paramGroups[0]!.lr, losses: s.losses, weights: s.weights };
    pending.push(rec);
    progress.update(s);
  };
  (trainer as unknown as { onLog: typeof onStepLog }).onLog = onStepLog;

  let firstStep = true;
  let interrupted = false;
  const abort = () => (interrupted = true);
  opts.signal?.addEventListener('abort', abort);
  if (opts.signal?.aborted) interrupted = true;
  let final: TaskMetrics | null = null;
  try {
    while (trainer.epoch < config.train.epochs && !interrupted) {
      const epoch = trainer.epoch;
      let b = 0;
      for await (const h of trainLoader.hostBatches(epoch)) {
        if (b++ < skip) continue;
        checkHostLabels(h, tasks);
        const batch = toDevice(h);
        const first = firstStep;
        const ts = performance.now();
        try {
          await trainer.trainStep(batch);
          if (first) {
            // The first step compiles the GPU kernels: report what the warm-up cost (one extra wait).
            await runtime().sync();
            firstStep = false;
            say(`first step ${((performance.now() - ts) / 1000).toFixed(1)} s, ${runtime().pipelines.size} GPU kernels compiled by then (drivers cache compiled kernels, so later runs start faster)`);
          }
        } finally {
          disposeBatch(batch);
        }
        opts.onStep?.(trainer.step);
        if (interrupted) break;
      }
      if (interrupted) {
        await trainer.drainLogs();
        await appendLines(dir, pending.splice(0));
        await trainer.saveCheckpoint(join(dir, CHECKPOINT), { batchInEpoch: b, name: config.name });
        progress.stop();
        log(`interrupted at step ${trainer.step}: checkpoint written to ${join(dir, CHECKPOINT)}; continue with --resume`);
        break;
      }
      skip = 0;
      const e = await trainer.finishEpoch();
      const last = trainer.epoch === config.train.epochs;
      let val: TaskMetrics | undefined;
      if (last || trainer.epoch % config.train.evalEvery === 0) val = await trainer.evaluate(valBatches());
      await appendLines(dir, [
        ...pending.splice(0),
        { type: 'epoch', epoch: e.epoch, step: trainer.step, time: (performance.now() - t0) / 1000, trainLoss: e.trainLoss, weights: e.weights, val: val ?? {}, seconds: e.seconds } satisfies EpochRecord,
      ]);
      if (val) {
        final = val;
        say(`epoch ${e.epoch}: ${Object.entries(val).map(([t, m]) => `${t} ${Object.entries(m).map(([k, v]) => `${k}=${v.toPrecision(4)}`).join(' ')}`).join(' | ')}`);
      }
      if (last || trainer.epoch % config.train.checkpointEvery === 0) {
        await trainer.saveCheckpoint(join(dir, CHECKPOINT), { batchInEpoch: 0, name: config.name });
      }
    }
    progress.stop();
    if (!interrupted && final) {
      let d: number | null = null;
      if (opts.baselines) d = deltaMTL(final, opts.baselines, surveyDirections(tasks));
      await appendLines(dir, [{ type: 'final', val: final, deltaMTL: d, higherIsBetter: directions(tasks) } satisfies FinalRecord]);
      await opts.finish?.({ dir, config, objects, trainer });
    }
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    progress.stop();
    trainer.dispose();
    balancer.dispose();
    model.dispose();
  }
  return { dir, steps: trainer.step, epochs: trainer.epoch, final, baseline, interrupted };
}
