/**
 * The trainer: one loop for every model, task set, balancer and optimiser. A step runs the forward
 * pass, each task's loss (plus its deep-supervision losses), hands the losses to the balancer (which
 * owns the backward pass) and steps the optimiser, without reading anything back (the balancer may,
 * for its own small numbers). Losses and weights are read back every `logEvery` steps; a
 * non-finite loss stops training with an error naming the task and the step, and checkpoints are
 * only written after the steps before them were checked, so the last one on disk is always sound.
 */
import { ArgumentError, LabelError } from '../errors.js';
import { validateLabels } from '../ops/losses.js';
import { add, mul } from '../ops/binary.js';
import { noGrad } from '../autograd/tape.js';
import type { LRScheduler } from '../optim/schedules.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Balancer } from './balance/balancer.js';
import type { TaskMetrics } from './metrics/delta-mtl.js';
import type { MultiTaskModel } from './models/model.js';
import { readFileBytes } from '../io/node-fs.js';
import { restoreCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { loadBalancer, peekExtra, saveBalancer, type EpochSums, type PeekedCheckpoint } from './trainer-checkpoint.js';
import { NonFiniteLossError, StepRecorder, type StepLog } from './step-log.js';
import { disposeBatch, type MultiTaskBatch, type Task } from './task.js';

export { disposeBatch };

/** What the trainer needs of an optimiser (every src/optim optimiser fits). */
export interface TrainerOptimizer {
  step(): void;
  zeroGrad(): void;
  stateDict(): unknown;
  loadStateDict(state: unknown): void;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  model: MultiTaskModel;
  /** One task per model output, in any order; names must match the model's task names. */
  tasks: readonly Task[];
  balancer: Balancer;
  /** Built over model.parameters() and balancer.parameters(). */
  optimizer: TrainerOptimizer;
  scheduler?: LRScheduler;
  /** Steps between readbacks of losses and weights (default 20; 1 reads every step). */
  logEvery?: number;
  /** Weight of each deep-supervision (auxiliary) loss relative to the final one (default 1). */
  auxWeight?: number;
  /** Called with each step's numbers when they are read back. */
  onLog?: (log: StepLog) => void;
}

/** What one epoch of training produced. */
export interface EpochLog {
  epoch: number;
  steps: number;
  /** Mean unweighted training loss per task over the epoch. */
  trainLoss: Record<string, number>;
  /** Mean balancing weight per task over the epoch. */
  weights: Record<string, number>;
  seconds: number;
}

/** Options of {@link Trainer.loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * Called with the checkpoint's validated progress (step, epoch, the caller's `extra`) before
   * anything is restored; throw to refuse the checkpoint with the trainer unchanged (e.g. an epoch
   * beyond the run's length).
   */
  check?: (checkpoint: PeekedCheckpoint) => void;
}

/** Data for one pass: an iterable (sync or async) of batches. */
export type Batches = Iterable<MultiTaskBatch> | AsyncIterable<MultiTaskBatch>;


/** Runs training and evaluation of a multi-task model (see the file comment). */
export class Trainer {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly balancer: Balancer;
  readonly optimizer: TrainerOptimizer;
  readonly scheduler: LRScheduler | undefined;
  /** Optimisation steps taken. */
  step = 0;
  /** Epochs completed. */
  epoch = 0;
  /** Every step's losses and weights read back so far. */
  readonly history: StepLog[] = [];
  private readonly recorder: StepRecorder;
  private readonly logEvery: number;
  private readonly auxWeight: number;
  /**
   * Called with every step's losses and weights as they are read back (the `onLog` option); may be
   * set after construction, e.g. by a caller that builds the trainer before its progress display.
   */
  onLog: ((log: StepLog) => void) | undefined;
  private checked = false;
  private epochStartStep = 0;
  private epochStartTime = performance.now();
  /** Running sums of the epoch in progress (what its means are computed from). */
  private sums: EpochSums;

  constructor(opts: TrainerOptions) {
    const op = 'Trainer';
    this.model = opts.model;
    this.tasks = [...opts.tasks];
    if (this.tasks.length === 0) throw new ArgumentError(op, 'needs at least one task');
    const names = this.tasks.map((t) => t.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new ArgumentError(op, `task '${dup}' is listed twice`);
    const modelNames = [...opts.model.taskNames];
    const missing = modelNames.filter((n) => !names.includes(n));
    const extra = names.filter((n) => !modelNames.includes(n));
    if (missing.length || extra.length) {
      throw new ArgumentError(
        op,
        `the model predicts [${modelNames.join(', ')}] but the tasks are [${names.join(', ')}]` +
          (missing.length ? `; no task for ${missing.join(', ')}` : '') +
          (extra.length ? `; the model has no output for ${extra.join(', ')}` : ''),
      );
    }
    // Keep the model's order, so weights and logs line up with the balancer's view.
    this.tasks = modelNames.map((n) => this.tasks.find((t) => t.name === n)!);
    this.balancer = opts.balancer;
    this.optimizer = opts.optimizer;
    this.scheduler = opts.scheduler;
    this.logEvery = opts.logEvery ?? 20;
    if (!Number.isInteger(this.logEvery) || this.logEvery < 1) throw new ArgumentError(op, `logEvery must be a positive integer, got ${opts.logEvery}`);
    this.auxWeight = opts.auxWeight ?? 1;
    if (!(this.auxWeight >= 0)) throw new ArgumentError(op, `auxWeight must be >= 0, got ${opts.auxWeight}`);
    this.onLog = opts.onLog;
    this.recorder = new StepRecorder(modelNames);
    this.sums = this.emptySums();
  }

  private emptySums(): EpochSums {
    const zero = () => Object.fromEntries(this.tasks.map((t) => [t.name, 0]));
    return { count: 0, losses: zero(), weights: zero(), seconds: 0 };
  }

  /** Task names in the model's order. */
  get taskNames(): string[] {
    return this.tasks.map((t) => t.name);
  }

  /** Checks the first batch against the model's outputs and the tasks (before any update). */
  private checkBatch(batch: MultiTaskBatch, outputs: Readonly<Record<string, Tensor>>): void {
    for (const task of this.tasks) {
      const truth = batch.targets[task.name];
      if (!truth) {
        throw new ArgumentError('Trainer', `the batch has no targets for task '${task.name}' (it has: ${Object.keys(batch.targets).join(', ') || 'none'})`);
      }
      const out = outputs[task.name];
      if (!out) throw new ArgumentError('Trainer', `the model returned no output for task '${task.name}'`);
      task.check(out, truth);
    }
  }

  /**
   * On the first batch, checks every integer target against its task's class count (one small
   * readback, once), so a label outside [0, classes) is an error naming the task rather than a NaN
   * loss later. Tasks whose targets are not i32 labels are skipped.
   */
  private async checkLabels(batch: MultiTaskBatch): Promise<void> {
    for (const task of this.tasks) {
      const truth = batch.targets[task.name];
      if (!truth || truth.target.dtype !== 'i32') continue;
      const ignore = (task as { ignoreIndex?: number }).ignoreIndex ?? 255;
      try {
        await validateLabels(truth.target, task.channels, ignore);
      } catch (e) {
        if (!(e instanceof LabelError)) throw e;
        throw new LabelError(`task '${task.name}' (first batch)`, e.count, e.index, e.value, e.numClasses, e.ignoreIndex);
      }
    }
  }

  /**
   * One optimisation step on `batch` (which the caller still owns). Reads nothing back except
   * what the balancer needs and, every `logEvery` steps, the logged losses.
   */
  async trainStep(batch: MultiTaskBatch): Promise<void> {
    if (!this.checked) await this.checkLabels(batch);
    this.model.train();
    this.optimizer.zeroGrad();
    tidy(() => {
      const out = this.model.forward(batch.input);
      if (!this.checked) {
        this.checkBatch(batch, out.outputs);
        this.checked = true;
      }
      const losses: Record<string, Tensor> = {};
      for (const task of this.tasks) {
        const truth = batch.targets[task.name]!;
        let l = task.loss(out.outputs[task.name]!, truth);
        for (const aux of out.auxiliary?.[task.name] ?? []) {
          const a = task.loss(aux, truth);
          l = add(l, this.auxWeight === 1 ? a : mul(a, this.auxWeight));
        }
        losses[task.name] = l;
      }
      const ordered = this.tasks.map((t) => losses[t.name]!);
      this.balancer.backward({
        tasks: this.taskNames,
        losses,
        sharedParameters: this.model.sharedParameters(),
        parameters: this.model.trainableParameters(),
        lastSharedLayer: this.model.lastSharedLayer(),
        representation: out.representation,
        step: this.step,
        epoch: this.epoch,
      });
      this.recorder.record(this.step, this.epoch, ordered, this.balancer.weights());
    });
    this.optimizer.step();
    this.scheduler?.step();
    this.step++;
    if (this.recorder.size >= this.logEvery) await this.drainLogs();
  }

  /**
   * Reads back the pending step logs (throws NonFiniteLossError for a non-finite loss, after the
   * finite steps before it were taken into the history and passed to `onLog`).
   */
  async drainLogs(): Promise<StepLog[]> {
    let logs: readonly StepLog[];
    try {
      logs = await this.recorder.drain();
    } catch (e) {
      if (e instanceof NonFiniteLossError) this.take(e.before);
      throw e;
    }
    this.take(logs);
    return [...logs];
  }

  /** Adds read-back step logs to the history and the epoch's running sums. */
  private take(logs: readonly StepLog[]): void {
    for (const l of logs) {
      this.history.push(l);
      this.sums.count++;
      for (const n of this.taskNames) {
        this.sums.losses[n] = this.sums.losses[n]! + l.losses[n]!;
        this.sums.weights[n] = this.sums.weights[n]! + l.weights[n]!;
      }
      this.onLog?.(l);
    }
  }

  /**
   * Trains one epoch over `batches` (each batch is disposed after its step), then
   * {@link finishEpoch}.
   */
  async trainEpoch(batches: Batches): Promise<EpochLog> {
    for await (const b of batches) {
      try {
        await this.trainStep(b);
      } finally {
        disposeBatch(b);
      }
    }
    return this.finishEpoch();
  }

  /**
   * Ends the current epoch: reads back pending logs, computes the epoch's mean losses and weights
   * (from the running sums over every step of the epoch, those before a resume included), tells the
   * balancer (DWA uses them) and advances the epoch counter.
   */
  async finishEpoch(): Promise<EpochLog> {
    await this.drainLogs();
    const s = this.sums;
    const mean = (sums: Record<string, number>): Record<string, number> =>
      Object.fromEntries(this.taskNames.map((n) => [n, sums[n]! / Math.max(s.count, 1)]));
    const log: EpochLog = {
      epoch: this.epoch,
      steps: this.step - this.epochStartStep,
      trainLoss: mean(s.losses),
      weights: mean(s.weights),
      seconds: this.epochSeconds(),
    };
    if (s.count > 0) this.balancer.endEpoch?.(log.trainLoss);
    this.epoch++;
    this.epochStartStep = this.step;
    this.epochStartTime = performance.now();
    this.sums = this.emptySums();
    return log;
  }

  /** Seconds the current epoch has run (before a resume included). */
  private epochSeconds(): number {
    return this.sums.seconds + (performance.now() - this.epochStartTime) / 1000;
  }

  /**
   * Evaluates every task's metrics over `batches` (disposed after use) in eval mode without
   * gradients; returns task -> metric -> value (all metrics of a task merged).
   */
  async evaluate(batches: Batches): Promise<TaskMetrics> {
    const metrics = new Map(this.tasks.map((t) => [t.name, t.metrics()]));
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      for await (const b of batches) {
        try {
          const preds = noGrad(() =>
            tidy(() => {
              const out = this.model.forward(b.input);
              return Object.fromEntries(this.tasks.map((t) => [t.name, t.postprocess ? t.postprocess(out.outputs[t.name]!) : out.outputs[t.name]!]));
            }),
          ) as Record<string, Tensor>;
          try {
            for (const t of this.tasks) {
              const truth = b.targets[t.name];
              if (!truth) throw new ArgumentError('Trainer.evaluate', `the batch has no targets for task '${t.name}'`);
              for (const m of metrics.get(t.name)!) await m.update(preds[t.name]!, truth.target, truth.mask);
            }
          } finally {
            for (const p of Object.values(preds)) p.dispose();
          }
        } finally {
          disposeBatch(b);
        }
      }
    } finally {
      this.model.train(wasTraining);
    }
    const out: TaskMetrics = {};
    for (const [name, ms] of metrics) out[name] = Object.assign({}, ...ms.map((m) => m.compute())) as Record<string, number>;
    return out;
  }

  /**
   * Writes a checkpoint (atomically: the previous file survives a failed write) with the model,
   * optimiser, scheduler, balancer state, step and epoch, after reading back and checking the
   * pending steps, so a non-finite loss throws before anything is written. `extra` (JSON) is
   * stored alongside.
   */
  async saveCheckpoint(path: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.drainLogs();
    const balancer = await saveBalancer(this.balancer);
    await saveCheckpoint(path, {
      model: this.model,
      optimizer: this.optimizer,
      ...(this.scheduler ? { schedule: this.scheduler } : {}),
      step: this.step,
      extra: {
        ...extra,
        epoch: this.epoch,
        epochStartStep: this.epochStartStep,
        epochSums: { ...this.sums, seconds: this.epochSeconds() },
        balancer,
      },
    });
  }

  /**
   * Restores a checkpoint written by {@link saveCheckpoint} into this trainer's model, optimiser,
   * scheduler and balancer (which must be of the same kind); returns the checkpoint's `extra`.
   * All or nothing: the progress fields are validated (and `opts.check` consulted) first, and when
   * the balancer or the model/optimiser/schedule refuse their state, the balancer's previous state
   * is put back, so a refused checkpoint leaves the whole trainer as it was.
   */
  async loadCheckpoint(path: string, opts: LoadCheckpointOptions = {}): Promise<Record<string, unknown>> {
    const op = 'Trainer.loadCheckpoint';
    const bytes = await readFileBytes(path, op);
    const meta = peekExtra(bytes, path, this.taskNames);
    if (meta.balancer.name !== this.balancer.name) {
      throw new ArgumentError(op, `${path} was written with balancer '${meta.balancer.name}', this trainer uses '${this.balancer.name}'`);
    }
    opts.check?.(meta);
    const previous = await saveBalancer(this.balancer);
    let loaded: ReturnType<typeof restoreCheckpoint>;
    try {
      loadBalancer(this.balancer, meta.balancer);
      loaded = restoreCheckpoint(bytes, { model: this.model, optimizer: this.optimizer, ...(this.scheduler ? { schedule: this.scheduler } : {}) }, path);
    } catch (e) {
      loadBalancer(this.balancer, previous);
      throw e;
    }
    this.step = loaded.step;
    this.epoch = meta.epoch;
    this.epochStartStep = meta.epochStartStep ?? loaded.step;
    this.epochStartTime = performance.now();
    this.sums = meta.epochSums ? structuredClone(meta.epochSums) : this.emptySums();
    this.checked = false;
    return loaded.extra as Record<string, unknown>;
  }

  /** Frees the trainer's pending logs (the model, balancer and optimiser stay the caller's). */
  dispose(): void {
    this.recorder.dispose();
  }
}
