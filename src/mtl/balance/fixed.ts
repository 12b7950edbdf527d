/**
 * Fixed task weights: the step's objective is sum_i w_i L_i with constants w_i (all 1 for equal
 * weighting, the usual multi-task baseline). The reference every other balancer's overhead is
 * measured against.
 */
import { ArgumentError } from '../../errors.js';
import { backward } from '../../autograd/backward.js';
import { mul } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { fromArray } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import { checkFinite, checkTasks, copyInto, stackLosses, stateTensor, taskLosses } from './common.js';

/**
 * Constant per-task weights. `weights` is a list in `tasks` order or a record by task name (tasks
 * it leaves out get 1). backward() runs one backward of sum_i w_i L_i.
 */
export class FixedWeights implements Balancer {
  readonly tasks: readonly string[];
  private readonly w: Tensor;

  /** `name` is what reports call it ('fixed'; equalWeights() says 'equal'). */
  constructor(
    tasks: readonly string[],
    weights: readonly number[] | Readonly<Record<string, number>> = {},
    readonly name: string = 'fixed',
  ) {
    const op = 'FixedWeights';
    this.tasks = checkTasks(op, tasks);
    let values: number[];
    if (Array.isArray(weights)) {
      if (weights.length !== tasks.length) throw new ArgumentError(op, `${weights.length} weights for ${tasks.length} tasks`);
      values = [...weights];
    } else {
      const rec = weights as Readonly<Record<string, number>>;
      const unknown = Object.keys(rec).filter((k) => !tasks.includes(k));
      if (unknown.length) throw new ArgumentError(op, `weights for unknown tasks: ${unknown.join(', ')} (tasks: ${tasks.join(', ')})`);
      values = tasks.map((t) => rec[t] ?? 1);
    }
    values.forEach((v, i) => checkFinite(op, `weight of task '${tasks[i]}'`, v, 0));
    this.w = keep(fromArray(values, [tasks.length]));
  }

  /** Runs backward(sum_i w_i L_i); see the class comment. */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const L = stackLosses(taskLosses(this.name, ctx, this.tasks));
      backward(sum(mul(L, this.w)));
    });
  }

  /** The constant weights, [T]: a new tensor the caller owns (created in the caller's scope). */
  weights(): Tensor {
    return tidy(() => mul(this.w, 1));
  }

  /** None: the weights are not learned. */
  parameters(): Tensor[] {
    return [];
  }

  /** The weights (restoring them lets a checkpoint carry weights chosen at run time). */
  state(): BalancerState {
    return { scalars: {}, tensors: { weights: this.w } };
  }

  /** Restores weights saved by state(). */
  loadState(state: BalancerState): void {
    copyInto(`${this.name}.loadState`, this.w, stateTensor(`${this.name}.loadState`, state, 'weights'));
  }

  /** Frees the weight tensor. */
  dispose(): void {
    this.w.dispose();
  }
}

/** Equal weighting: every task weighs 1 (the plain sum of the task losses). */
export function equalWeights(tasks: readonly string[]): FixedWeights {
  return new FixedWeights(tasks, {}, 'equal');
}
