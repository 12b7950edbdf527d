/**
 * Per-step losses and balancing weights without a readback inside the step: each step leaves one
 * small GPU tensor [2T] (losses, then weights); `drain()` concatenates the pending ones and reads
 * them back in one transfer, every `logEvery` steps or when asked. A non-finite loss is reported
 * with the task and the step it first appeared at.
 */
import { WebmtlError } from '../errors.js';
import { concat, stack } from '../ops/shape-ops.js';
import { detach } from '../autograd/tape.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Raised when a task's loss became NaN or infinite; names the task and the step, 1-based like the
 * `step` of metrics.jsonl (the first step is step 1). `before` holds the steps of the same readback
 * that came before it and were finite, so a caller can still record them.
 */
export class NonFiniteLossError extends WebmtlError {
  constructor(
    readonly task: string,
    readonly step: number,
    readonly value: number,
    readonly before: readonly StepLog[] = [],
  ) {
    super(
      `loss of task '${task}' is ${value} at step ${step}: training stopped; ` +
        'lower the learning rate, check that task\'s targets, or use gradient clipping',
    );
  }
}

/** One step's numbers as read back. */
export interface StepLog {
  step: number;
  epoch: number;
  /** Unweighted loss per task. */
  losses: Record<string, number>;
  /** Balancing weight per task used in that step. */
  weights: Record<string, number>;
}

/** Collects per-step loss and weight tensors and reads them back in batches. */
export class StepRecorder {
  private pending: { step: number; epoch: number; t: Tensor }[] = [];

  constructor(readonly tasks: readonly string[]) {}

  /** Records step `step` from the per-task losses and the balancer's [T] weights (no readback). */
  record(step: number, epoch: number, losses: readonly Tensor[], weights: Tensor): void {
    const t = tidy(() => concat([stack(losses.map((l) => detach(l).view([]))), detach(weights).view([this.tasks.length])]));
    this.pending.push({ step, epoch, t: keep(t) });
  }

  /** Steps recorded and not read back yet. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Reads back every pending step (one transfer) and returns their logs; throws NonFiniteLossError
   * for the first non-finite loss (after freeing everything), carrying the finite steps before it.
   */
  async drain(): Promise<StepLog[]> {
    if (this.pending.length === 0) return [];
    const items = this.pending;
    this.pending = [];
    const all = concat(items.map((i) => i.t));
    for (const i of items) i.t.dispose();
    const data = await all.data();
    all.dispose();
    const T = this.tasks.length;
    const out: StepLog[] = [];
    items.forEach((it, k) => {
      const losses: Record<string, number> = {};
      const weights: Record<string, number> = {};
      this.tasks.forEach((name, j) => {
        const v = data[k * 2 * T + j]!;
        if (!Number.isFinite(v)) throw new NonFiniteLossError(name, it.step + 1, v, out);
        losses[name] = v;
        weights[name] = data[k * 2 * T + T + j]!;
      });
      out.push({ step: it.step, epoch: it.epoch, losses, weights });
    });
    return out;
  }

  /** Frees the pending tensors without reading them. */
  dispose(): void {
    for (const i of this.pending) i.t.dispose();
    this.pending = [];
  }
}
