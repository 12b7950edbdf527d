/**
 * `webmtl train`: runs a configuration into a run folder (config.json, metrics.jsonl,
 * checkpoints/last.safetensors, samples/, report.html). Progress is shown per step; validation runs
 * every `evalEvery` epochs; a checkpoint is written every `checkpointEvery` epochs, at the end, and
 * when the run is interrupted (Ctrl-C, SIGTERM or an AbortSignal), mid-epoch included.
 *
 * The run folder survives faults: one trainer holds it at a time (run-folder.ts), `--resume`
 * continues from the checkpoint with the epoch's running sums (the epoch record equals that of an
 * uninterrupted run), first cutting metrics.jsonl back to what the checkpoint covers (no duplicated
 * or torn records, metrics-file.ts), and restarts from step 0 when the run never wrote a checkpoint.
 * Everything read from outside (config, baselines, validation labels) is checked before step 1.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError, WebmtlError } from '../errors.js';
import { DataLoader } from '../data/loader.js';
import { writeFileAtomic } from '../io/node-fs.js';
import { toDevice, type HostBatch } from '../data/batch.js';
import { deltaMTL } from '../mtl/metrics/delta-mtl.js';
import { NonFiniteLossError } from '../mtl/step-log.js';
import { surveyDirections } from './survey-metrics.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import { Trainer, disposeBatch } from '../mtl/trainer.js';
import { runtime } from '../tensor/context.js';
import { evaluateBaselines } from './baselines.js';
import { buildRun, type RunObjects } from './build.js';
import type { RunConfig } from './config.js';
import { checkHostLabels } from './check-labels.js';
import { appendRecords, repairMetrics } from './metrics-file.js';
import { Progress } from './progress.js';
import { fsFailure, isFsError, lockRunDir, makeRunDir, removeTempFiles } from './run-folder.js';
import { checkBaselines, readRunConfig } from './run-inputs.js';
import type { BaselineRecord, EpochRecord, FinalRecord, MetricsRecord, StepRecord } from './run-files.js';
import type { Task } from '../mtl/task.js';

/** Options of {@link trainRun}. */
export interface TrainRunOptions {
  /** The run folder (created; must not hold a run unless `resume`). */
  dir: string;
  /** The configuration (ignored when resuming: the folder's config.json is used). */
  config?: RunConfig;
  /** Continue the run in `dir` from its last checkpoint (from step 0 when it has none yet). */
  resume?: boolean;
  /** Show progress (default true). */
  progress?: boolean;
  /** Stop (with a checkpoint) when this signal aborts; Ctrl-C and SIGTERM do the same through the CLI. */
  signal?: AbortSignal;
  /** Single-task baselines for ΔMTL: task -> metric -> value (e.g. from `webmtl compare`). */
  baselines?: TaskMetrics;
  /** Where `baselines` came from, for messages (default 'the baselines'). */
  baselinesSource?: string;
  /** Called with each message the run prints outside the progress bar. */
  log?: (message: string) => void;
  /** Called after every optimisation step with the number of steps taken (e.g. to stop a run). */
  onStep?: (steps: number) => void;
  /** Writes samples and the report at the end (default true). */
  finish?: (run: FinishedRun) => Promise<void>;
  /** Builds the run's objects from its configuration (default buildRun; tests swap in faulty data). */
  build?: (config: RunConfig) => Promise<RunObjects>;
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
  /** Validation metrics after the last epoch (null when interrupted before the end). */
  final: TaskMetrics | null;
  baseline: TaskMetrics | null;
  interrupted: boolean;
  /** The step of the checkpoint on disk when the run ended (null when there is none). */
  checkpointStep: number | null;
}

/** Training stopped by a non-finite loss; says what was kept and how to go on. */
export class TrainingStoppedError extends WebmtlError {}

/** The checkpoint of a run to resume cannot be used; says how to start the run again. */
export class CheckpointUnusableError extends WebmtlError {}

/** The checkpoint's path inside a run folder. */
export const CHECKPOINT = 'checkpoints/last.safetensors';

/** Every metric's direction per task, as the report wants it. */
function directions(tasks: readonly Task[]): Record<string, Record<string, boolean>> {
  return Object.fromEntries(tasks.map((t) => [t.name, Object.assign({}, ...t.metrics().map((m) => m.higherIsBetter)) as Record<string, boolean>]));
}

/** What is in the folder at the start, and how this run begins. */
async function readStart(opts: TrainRunOptions): Promise<{ config: RunConfig; resume: boolean }> {
  const dir = opts.dir;
  if (opts.resume) return { config: await readRunConfig(dir), resume: existsSync(join(dir, CHECKPOINT)) };
  if (!opts.config) throw new ArgumentError('train', 'needs a configuration');
  if (existsSync(join(dir, 'config.json'))) {
    throw new ArgumentError('train', `${dir} already holds a run; use --resume ${dir} to continue it (from step 0 if it has no checkpoint yet) or choose another --out`);
  }
  return { config: opts.config, resume: false };
}

/** Trains `opts.config` (or resumes the run in `opts.dir`); see the file comment. */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const dir = opts.dir;
  const log = opts.log ?? ((m: string) => process.stdout.write(`${m}\n`));
  const start = await readStart(opts);
  const config = start.config;
  let resume = start.resume;
  // Build first: a bad model or balancer spec (or baselines) fails before the run folder is touched.
  const objects = await (opts.build ?? buildRun)(config);
  const { tasks, model, balancer, optimizer, scheduler, stepsPerEpoch } = objects;
  const trainer = new Trainer({ model, tasks, balancer, optimizer, scheduler, logEvery: config.train.logEvery });
  let unlock: (() => Promise<void>) | null = null;
  const ckptPath = join(dir, CHECKPOINT);
  let checkpointStep: number | null = null;
  try {
    if (opts.baselines) checkBaselines(opts.baselines, tasks, opts.baselinesSource);
    await makeRunDir(dir);
    const lock = await lockRunDir(dir);
    unlock = lock.release;
    if (lock.tookOver) log(`${dir}: took over the lock of ${lock.tookOver}`);
    // Holding the lock: look again (another trainer may have started it meanwhile), then tidy up.
    resume = (await readStart({ ...opts, config })).resume;
    await removeTempFiles(dir);
    await removeTempFiles(join(dir, 'checkpoints'));
    const result = await trainLoop({ opts, dir, log, config, resume, objects, trainer, stepsPerEpoch, ckptPath, onCheckpoint: (s) => (checkpointStep = s) });
    return { ...result, checkpointStep };
  } catch (e) {
    throw isFsError(e) ? fsFailure(e, (e as NodeJS.ErrnoException).path ?? dir, 'write to the run folder', `then continue with --resume ${dir}`) : e;
  } finally {
    trainer.dispose();
    balancer.dispose();
    model.dispose();
    await unlock?.();
  }
}

interface LoopArgs {
  opts: TrainRunOptions;
  dir: string;
  log: (m: string) => void;
  config: RunConfig;
  resume: boolean;
  objects: RunObjects;
  trainer: Trainer;
  stepsPerEpoch: number;
  ckptPath: string;
  onCheckpoint: (step: number) => void;
}

/** The run itself, in a folder this process holds. */
async function trainLoop(a: LoopArgs): Promise<Omit<TrainRunResult, 'checkpointStep'>> {
  const { opts, dir, log, config, objects, trainer, stepsPerEpoch, ckptPath } = a;
  const { data, tasks, optimizer } = objects;
  const loaderOpts = { batchSize: config.train.batchSize, seed: config.seed, tasks: config.tasks, prefetch: config.train.prefetch };
  const trainLoader = new DataLoader(data.train, { ...loaderOpts, shuffle: true, dropLast: true, augment: data.trainAugment ?? undefined, workers: config.train.workers });
  const valLoader = new DataLoader(data.val, { ...loaderOpts, shuffle: false, augment: data.valAugment ?? undefined });
  const total = stepsPerEpoch * config.train.epochs;
  const valHost = async function* (): AsyncGenerator<HostBatch> {
    for await (const h of valLoader.hostBatches(0)) {
      checkHostLabels(h, tasks);
      yield h;
    }
  };
  const valBatches = async function* () {
    for await (const h of valHost()) yield toDevice(h);
  };

  let skip = 0;
  let elapsed = 0;
  let checkpointStep: number | null = null;
  let baseline: TaskMetrics | null = null;
  if (a.resume) {
    const extra = await trainer.loadCheckpoint(ckptPath, {
      check: (c) => {
        const b = c.extra.batchInEpoch;
        const bad = (why: string) => new ArgumentError('train --resume', `${ckptPath}: ${why}; the checkpoint does not belong to this run's config.json`);
        if (!Number.isInteger(b) || (b as number) < 0 || (b as number) > stepsPerEpoch) throw bad(`batchInEpoch ${JSON.stringify(b)} is not an integer in [0, ${stepsPerEpoch}]`);
        if (c.epoch > config.train.epochs) throw bad(`epoch ${c.epoch} is beyond the run's ${config.train.epochs} epochs`);
        if (c.step !== c.epoch * stepsPerEpoch + (b as number)) throw bad(`step ${c.step} does not match epoch ${c.epoch} and batch ${b as number} (${stepsPerEpoch} steps per epoch)`);
      },
    }).catch((e: unknown) => {
      if (isFsError(e) || !(e instanceof WebmtlError)) throw e;
      // Not a dead end: without the checkpoint, --resume starts the run again.
      throw new CheckpointUnusableError(`${e.message.replace(/\s*\n\s*/g, ' ')}; to start the run again from step 0, delete ${ckptPath} and run --resume ${dir}`);
    });
    skip = extra.batchInEpoch as number;
    elapsed = typeof extra.time === 'number' && Number.isFinite(extra.time) ? extra.time : 0;
    checkpointStep = trainer.step;
    a.onCheckpoint(trainer.step);
    const fix = await repairMetrics(dir, { step: trainer.step, epoch: trainer.epoch });
    const notes = [fix.dropped ? `${fix.dropped} record(s) after the checkpoint dropped from metrics.jsonl (they are written again)` : '', fix.torn ? `${fix.torn} torn line(s) removed` : ''].filter(Boolean);
    log(`resuming ${dir} at step ${trainer.step} (epoch ${trainer.epoch}, batch ${skip})${notes.length ? `; ${notes.join('; ')}` : ''}`);
    // The baseline pass checks the validation labels of a new run; a resumed one checks them here.
    for await (const h of valHost()) void h;
  } else {
    if (opts.resume) log(`${dir} has no checkpoint yet: starting the run again from step 0 with its config.json`);
    await makeRunDir(join(dir, 'checkpoints'));
    const configPath = join(dir, 'config.json');
    // Atomically: a failed write leaves no config.json, so the same command can simply run again.
    await writeFileAtomic(configPath, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`), 'train').catch((e: unknown) => {
      throw fsFailure(e, configPath, 'write the run configuration', opts.resume ? `then run --resume ${dir} again` : 'then run the same command again');
    });
    await repairMetrics(dir, null);
    // Trivial baselines from training-set statistics, evaluated like the model (checks the validation labels).
    baseline = await evaluateBaselines(tasks, objects.stats, valBatches(), disposeBatch);
    await appendRecords(dir, [{ type: 'baseline', val: baseline, higherIsBetter: directions(tasks) } satisfies BaselineRecord]);
  }

  const progress = new Progress(total, trainer.step, process.stdout, opts.progress ?? true);
  // Messages go above the bar when it is shown, to the caller's log otherwise.
  const say = (m: string) => ((opts.progress ?? true) ? progress.log(m) : log(m));
  const t0 = performance.now() - elapsed * 1000;
  const time = () => (performance.now() - t0) / 1000;
  const pending: MetricsRecord[] = [];
  const onStepLog = (s: { step: number; epoch: number; losses: Record<string, number>; weights: Record<string, number> }) => {
    const rec: StepRecord = { type: 'step', step: s.step + 1, epoch: s.epoch, time: time(), lr: optimizer.paramGroups[0]!.lr, losses: s.losses, weights: s.weights };
    pending.push(rec);
    progress.update(s);
  };
  trainer.onLog = onStepLog;
  const checkpoint = async (batchInEpoch: number) => {
    try {
      await trainer.saveCheckpoint(ckptPath, { batchInEpoch, name: config.name, time: time() });
    } catch (e) {
      const kept = checkpointStep === null ? `no checkpoint exists yet; --resume ${dir} starts the run again from step 0` : `the checkpoint of step ${checkpointStep} is intact; continue with --resume ${dir}`;
      throw isFsError(e) ? fsFailure(e, ckptPath, 'write the checkpoint', kept) : e;
    }
    checkpointStep = trainer.step;
    a.onCheckpoint(trainer.step);
  };

  const startStep = trainer.step;
  let firstStep = true;
  let interrupted = false;
  // Once training is complete there is nothing left to checkpoint: an interrupt then changes nothing.
  let complete = false;
  const abort = () => (interrupted = !complete);
  opts.signal?.addEventListener('abort', abort);
  if (opts.signal?.aborted) interrupted = true;
  let final: TaskMetrics | null = null;
  try {
    while (trainer.epoch < config.train.epochs) {
      const epoch = trainer.epoch;
      let b = 0;
      for await (const h of trainLoader.hostBatches(epoch)) {
        if (interrupted) break;
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
        progress.stop();
        if (trainer.step === startStep) {
          const where = checkpointStep === null ? `no checkpoint was written; --resume ${dir} starts the run again from step 0` : `the checkpoint of step ${checkpointStep} is unchanged; continue with --resume ${dir}`;
          log(`interrupted before the first step: nothing was trained; ${where}`);
          break;
        }
        await trainer.drainLogs();
        await appendRecords(dir, pending.splice(0));
        await checkpoint(b);
        log(`interrupted at step ${trainer.step}: checkpoint written to ${ckptPath}; continue with --resume ${dir}`);
        break;
      }
      skip = 0;
      const e = await trainer.finishEpoch();
      const last = trainer.epoch === config.train.epochs;
      let val: TaskMetrics | undefined;
      if (last || trainer.epoch % config.train.evalEvery === 0) val = await trainer.evaluate(valBatches());
      await appendRecords(dir, [
        ...pending.splice(0),
        { type: 'epoch', epoch: e.epoch, step: trainer.step, time: time(), trainLoss: e.trainLoss, weights: e.weights, val: val ?? {}, seconds: e.seconds } satisfies EpochRecord,
      ]);
      if (val) {
        final = val;
        say(`epoch ${e.epoch}: ${Object.entries(val).map(([t, m]) => `${t} ${Object.entries(m).map(([k, v]) => `${k}=${v.toPrecision(4)}`).join(' ')}`).join(' | ')}`);
      }
      if (last || trainer.epoch % config.train.checkpointEvery === 0) await checkpoint(0);
    }
    progress.stop();
    // Training is complete (now, or before a kill that came before the final record): finish it;
    // an interrupt after the last checkpoint has nothing left to save and does not skip the result.
    if (trainer.epoch >= config.train.epochs) {
      complete = true;
      interrupted = false;
      final ??= await trainer.evaluate(valBatches());
      let d: number | null = null;
      if (opts.baselines) d = deltaMTL(final, opts.baselines, surveyDirections(tasks));
      await appendRecords(dir, [{ type: 'final', val: final, deltaMTL: d, higherIsBetter: directions(tasks) } satisfies FinalRecord]);
      await opts.finish?.({ dir, config, objects, trainer });
    }
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    // Keep what was read back: the finite steps before it (metrics.jsonl numbers steps from 1, as the message does).
    progress.stop();
    await appendRecords(dir, pending.splice(0));
    // --resume keeps config.json, so it helps once the data is fixed; other settings need a new run.
    const kept =
      checkpointStep === null
        ? `no checkpoint was written; once the data is fixed, --resume ${dir} starts the run again from step 0 (other settings need a new run)`
        : `the checkpoint of step ${checkpointStep} (${ckptPath}), written before it, is intact; once the data is fixed, --resume ${dir} continues from it`;
    throw new TrainingStoppedError(`${e.message}. The steps before it are in ${join(dir, 'metrics.jsonl')}; ${kept}`);
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    progress.stop();
  }
  return { dir, steps: trainer.step, epochs: trainer.epoch, final, baseline, interrupted };
}
