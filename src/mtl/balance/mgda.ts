/**
 * MGDA-UB, "Multi-Task Learning as Multi-Objective Optimization" (Sener & Koltun, NeurIPS 2018).
 * The gradients g_i of each task loss with respect to the shared representation z (the upper
 * bound's cheap surrogate for the shared parameters' gradients), optionally normalised, give the
 * Gram matrix A_ij = g_i . g_j; the min-norm element of their convex hull,
 *
 *     alpha = argmin_{alpha in simplex} || sum_i alpha_i g_i ||^2,
 *
 * weights the step's objective sum_i alpha_i L_i (raw losses, as the official code). Normalisation
 * as the official code's `gradient_normalizers`: 'none', 'l2' (g_i / ||g_i||), 'loss' (g_i / L_i)
 * or 'loss+' (g_i / (L_i ||g_i||)); the default 'loss+' is what the official sample configuration
 * uses (LibMTL defaults to 'none'). The official solver runs Frank-Wolfe (up to 250 iterations) on
 * the host; here the min-norm problem is solved exactly on the GPU over every face of the simplex
 * (simplex.ts), so nothing is read back and backward() stays synchronous.
 *
 * The backward of sum_i alpha_i L_i reuses the per-task gradients already computed: the encoder
 * receives one backward of z with sum_i alpha_i g_i, each head alpha_i times its gradient (the same
 * result as a second full backward, without running the heads again). weights() reports the alphas
 * themselves (they sum to 1, not T: multiply by T to compare with methods whose weights sum to T).
 * Mode 'parameters' uses the shared parameters' gradients instead of z (plain MGDA, T backward
 * passes through the encoder).
 */
import { ArgumentError } from '../../errors.js';
import { backward } from '../../autograd/backward.js';
import { detach, noGrad } from '../../autograd/tape.js';
import { div, mul } from '../../ops/binary.js';
import { matmul } from '../../ops/matmul.js';
import { sum } from '../../ops/reduce.js';
import { narrow, reshape, stack } from '../../ops/shape-ops.js';
import { sqrt, square } from '../../ops/unary.js';
import { full } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import {
  accumulateFlat, addSpecific, checkKeys, checkTasks, flattenGrads, perTaskGradients, representationOf,
  sharedTrainable, stackLosses, taskLosses, taskSpecific,
} from './common.js';
import type { SurgeryMode } from './pcgrad.js';
import { gram, minNormWeights, supportMasks } from './simplex.js';

/** Gradient normalisations of the official MGDA code. */
export type MgdaNormalization = 'none' | 'l2' | 'loss' | 'loss+';

/** Each normalisation's divisor of g_i, from ||g_i|| and L_i ([T] tensors). */
const NORMALIZERS: { [K in MgdaNormalization]: (norms: Tensor, losses: Tensor) => Tensor } = {
  none: (norms) => full(norms.shape, 1),
  l2: (norms) => norms,
  loss: (_norms, losses) => losses,
  'loss+': (norms, losses) => mul(norms, losses),
};

/** Options of {@link MGDA}. */
export interface MgdaOptions {
  /** Gradient normalisation before the solver (default 'loss+'). */
  normalization?: MgdaNormalization;
  /** 'representation' (default, MGDA-UB) or 'parameters' (plain MGDA). */
  mode?: SurgeryMode;
}

/** MGDA-UB; see the file comment. */
export class MGDA implements Balancer {
  readonly name = 'mgda';
  readonly tasks: readonly string[];
  readonly normalization: MgdaNormalization;
  readonly mode: SurgeryMode;
  private readonly masks: Tensor;
  private alphas: Tensor;

  constructor(tasks: readonly string[], options: MgdaOptions = {}) {
    const op = 'MGDA';
    this.tasks = checkTasks(op, tasks);
    checkKeys(op, options, ['normalization', 'mode']);
    this.normalization = options.normalization ?? 'loss+';
    if (!(this.normalization in NORMALIZERS)) {
      throw new ArgumentError(op, `normalization must be one of ${Object.keys(NORMALIZERS).join(', ')} (got ${String(this.normalization)})`);
    }
    this.mode = options.mode ?? 'representation';
    if (this.mode !== 'parameters' && this.mode !== 'representation') {
      throw new ArgumentError(op, `mode must be 'representation' or 'parameters' (got ${String(this.mode)})`);
    }
    if (tasks.length > 12) throw new ArgumentError(op, `the exact simplex solver enumerates 2^T faces; ${tasks.length} tasks is too many (at most 12)`);
    this.masks = keep(supportMasks(tasks.length));
    this.alphas = keep(full([tasks.length], 1 / tasks.length));
  }

  /** Per-task gradients, the min-norm alphas, and the alpha-weighted gradients into `.grad`. */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const losses = taskLosses(this.name, ctx, this.tasks);
      const specific = taskSpecific(ctx);
      const rep = this.mode === 'representation';
      const targets = rep ? [representationOf(this.name, ctx)] : sharedTrainable(this.name, ctx);
      const per = perTaskGradients(losses, [...targets, ...specific]);
      const G = stack(per.map((g) => flattenGrads(g.slice(0, targets.length), targets)), 0); // [T, P]
      const alpha = noGrad(() => {
        const A = gram(G);
        const norms = sqrt(sum(square(G), 1));
        const gn = NORMALIZERS[this.normalization](norms, detach(stackLosses(losses)));
        const T = this.tasks.length;
        return minNormWeights(div(A, mul(reshape(gn, [T, 1]), reshape(gn, [1, T]))), this.masks);
      });
      const combined = noGrad(() => reshape(matmul(reshape(alpha, [1, this.tasks.length]), G), [G.shape[1]!]));
      if (rep) backward(targets[0]!, reshape(combined, targets[0]!.shape));
      else accumulateFlat(combined, targets);
      addSpecific(per, targets.length, specific, this.tasks.map((_, i) => narrow(alpha, 0, i, 1)));
      this.alphas.dispose();
      this.alphas = keep(alpha);
    });
  }

  /** The alphas of the last step (sum 1; 1/T before the first), [T]; the caller owns it. */
  weights(): Tensor {
    return tidy(() => mul(this.alphas, 1));
  }

  /** None. */
  parameters(): Tensor[] {
    return [];
  }

  /** Nothing persists between steps but the last alphas (reported by weights()). */
  state(): BalancerState {
    return { scalars: {}, tensors: { alphas: this.alphas } };
  }

  /** Restores the reported alphas. */
  loadState(state: BalancerState): void {
    const a = state?.tensors?.alphas;
    if (!a || a.size !== this.tasks.length) throw new ArgumentError(`${this.name}.loadState`, `state needs 'alphas' with ${this.tasks.length} values`);
    const next = keep(noGrad(() => mul(a, 1)));
    this.alphas.dispose();
    this.alphas = next;
  }

  /** Frees the solver's masks and the alphas. */
  dispose(): void {
    this.masks.dispose();
    this.alphas.dispose();
  }
}

