/**
 * Dynamic Weight Average (Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention",
 * CVPR 2019). With r_i = L_i(t-1) / L_i(t-2), the ratio of a task's mean training loss over the
 * two previous epochs, the weights of epoch t are
 *
 *     w_i(t) = K exp(r_i / T) / sum_j exp(r_j / T)      (K = number of tasks, T = temperature, 2)
 *
 * and w_i = 1 for the first two epochs. The epoch means arrive through endEpoch() (the trainer
 * averages the unweighted task losses over the epoch), so the weights change only there: they are
 * computed on the host from those few numbers and uploaded once per epoch.
 */
import { ArgumentError } from '../../errors.js';
import { backward } from '../../autograd/backward.js';
import { mul } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { fromArray } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState, TaskWeights } from './balancer.js';
import { checkFinite, checkKeys, checkTasks, stackLosses, stateScalars, taskLosses } from './common.js';

/** Options of {@link DynamicWeightAverage}. */
export interface DwaOptions {
  /** Softmax temperature T (default 2, as the paper). */
  temperature?: number;
}

/** The DWA weights for the last two epochs' mean losses (host maths, exported for tests). */
export function dwaWeights(prev: readonly number[], prev2: readonly number[], temperature: number): number[] {
  const r = prev.map((l, i) => l / prev2[i]!);
  const top = Math.max(...r.map((x) => x / temperature)); // shift for exp's range; cancels out
  const e = r.map((x) => Math.exp(x / temperature - top));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => (prev.length * x) / z);
}

/** Dynamic Weight Average; see the file comment. */
export class DynamicWeightAverage implements Balancer {
  readonly name = 'dwa';
  readonly tasks: readonly string[];
  readonly temperature: number;
  /** Epoch-mean losses of the last two epochs, oldest first. */
  private history: number[][] = [];
  private w: Tensor;

  constructor(tasks: readonly string[], options: DwaOptions = {}) {
    const op = 'DynamicWeightAverage';
    this.tasks = checkTasks(op, tasks);
    checkKeys(op, options, ['temperature']);
    this.temperature = checkFinite(op, 'temperature', options.temperature ?? 2, 0, true);
    this.w = keep(fromArray(this.hostWeights(), [tasks.length]));
  }

  private hostWeights(): number[] {
    const h = this.history;
    return h.length < 2 ? this.tasks.map(() => 1) : dwaWeights(h[1]!, h[0]!, this.temperature);
  }

  /** Runs backward(sum_i w_i L_i) with this epoch's weights. */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const L = stackLosses(taskLosses(this.name, ctx, this.tasks));
      backward(sum(mul(L, this.w)));
    });
  }

  /**
   * Records an epoch's mean task losses (every task, finite and > 0) and sets the next epoch's
   * weights. An ArgumentError for a missing task or a NaN, infinite or non-positive mean.
   */
  endEpoch(meanLosses: TaskWeights): void {
    const op = `${this.name}.endEpoch`;
    const means = this.tasks.map((t) => {
      if (!(t in (meanLosses ?? {}))) throw new ArgumentError(op, `no mean loss for task '${t}'`);
      return checkFinite(op, `mean loss of task '${t}'`, meanLosses[t], 0, true);
    });
    this.history = [...this.history, means].slice(-2);
    this.upload();
  }

  private upload(): void {
    const next = keep(fromArray(this.hostWeights(), [this.tasks.length]));
    this.w.dispose();
    this.w = next;
  }

  /** This epoch's weights, [T]; the caller owns the tensor. */
  weights(): Tensor {
    return tidy(() => mul(this.w, 1));
  }

  /** None: DWA learns nothing by gradient. */
  parameters(): Tensor[] {
    return [];
  }

  /** The last two epochs' mean losses (host numbers). */
  state(): BalancerState {
    return { scalars: { prev2: this.history.length === 2 ? [...this.history[0]!] : [], prev: [...(this.history.at(-1) ?? [])] }, tensors: {} };
  }

  /** Restores the loss history of state() and the weights that follow from it. */
  loadState(state: BalancerState): void {
    const op = `${this.name}.loadState`;
    const prev = stateScalars(op, state, 'prev');
    const prev2 = stateScalars(op, state, 'prev2');
    const T = this.tasks.length;
    for (const v of [prev, prev2]) {
      if (v.length !== 0 && v.length !== T) throw new ArgumentError(op, `epoch means need ${T} values (got ${v.length})`);
      v.forEach((x) => checkFinite(op, 'an epoch mean', x, 0, true));
    }
    if (prev.length === 0 && prev2.length !== 0) throw new ArgumentError(op, 'prev2 without prev');
    this.history = [prev2, prev].filter((v) => v.length > 0).map((v) => [...v]);
    this.upload();
  }

  /** Frees the weight tensor. */
  dispose(): void {
    this.w.dispose();
  }
}
