/**
 * Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018). Each task learns
 * s_i = log sigma_i^2 (initialised to 0) and the step minimises
 *
 *     sum_i 0.5 exp(-s_i) L_i + 0.5 s_i
 *
 * the paper's Gaussian-likelihood form (1 / (2 sigma^2) L + log sigma) written in log-variance for
 * stability, applied to every task alike. The paper derives 1 / sigma^2 (without the 0.5) for a
 * softmax classification likelihood, and several codebases follow it with exp(-s_i) L_i + s_i for
 * classification, or for all tasks (e.g. LibMTL, whose optimum weights are twice ours); the
 * difference is a constant factor on the loss of those tasks. The s_i are returned by parameters()
 * so that the model's optimiser trains them with the network.
 */
import { backward } from '../../autograd/backward.js';
import { add, mul } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { exp, neg } from '../../ops/unary.js';
import { zeros } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import { checkTasks, copyInto, stackLosses, stateTensor, taskLosses } from './common.js';

/** Uncertainty weighting; see the file comment. */
export class UncertaintyWeighting implements Balancer {
  readonly name = 'uncertainty';
  readonly tasks: readonly string[];
  /** s_i = log sigma_i^2, [T], a leaf trained by the model's optimiser. */
  readonly logVars: Tensor;
  private used: Tensor;

  constructor(tasks: readonly string[]) {
    this.tasks = checkTasks('UncertaintyWeighting', tasks);
    this.logVars = keep(zeros([tasks.length], { requiresGrad: true }));
    this.logVars.name = 'balancer.log_vars';
    this.used = keep(this.currentWeights());
  }

  private currentWeights(): Tensor {
    return tidy(() => mul(exp(neg(this.logVars)), 0.5));
  }

  /**
   * Runs backward(sum_i 0.5 exp(-s_i) L_i + 0.5 s_i): the model's parameters and `logVars` receive
   * their gradients; the weights 0.5 exp(-s_i) of this step are recorded for weights().
   */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const L = stackLosses(taskLosses(this.name, ctx, this.tasks));
      const w = mul(exp(neg(this.logVars)), 0.5);
      backward(sum(add(mul(w, L), mul(this.logVars, 0.5))));
    });
    this.used.dispose();
    this.used = keep(this.currentWeights());
  }

  /** The weights 0.5 exp(-s_i) of the last step (before the optimiser moved s), [T]; the caller owns it. */
  weights(): Tensor {
    return tidy(() => mul(this.used, 1));
  }

  /** [logVars]: hand these to the model's optimiser. */
  parameters(): Tensor[] {
    return [this.logVars];
  }

  /** The log variances (the optimiser's moments for them live in the optimiser's own state). */
  state(): BalancerState {
    return { scalars: {}, tensors: { logVars: this.logVars } };
  }

  /** Copies saved log variances into `logVars` (which keeps its identity for the optimiser). */
  loadState(state: BalancerState): void {
    const op = `${this.name}.loadState`;
    copyInto(op, this.logVars, stateTensor(op, state, 'logVars'));
    this.used.dispose();
    this.used = keep(this.currentWeights());
  }

  /** Frees the log variances. */
  dispose(): void {
    this.logVars.dispose();
    this.used.dispose();
  }
}
