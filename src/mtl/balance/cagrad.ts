/**
 * CAGrad, "Conflict-Averse Gradient Descent for Multi-task Learning" (Liu, Liu, Jin, Stone & Liu,
 * NeurIPS 2021). On the shared parameters' task gradients g_i, with g0 = mean_i g_i and
 * sqrt(phi) = c ||g0||:
 *
 *     w* = argmin_{w in simplex} g_w . g0 + sqrt(phi) ||g_w||,    g_w = sum_i w_i g_i
 *     d  = g0 + sqrt(phi) / ||g_w*|| g_w*,                         update = d / (1 + c^2)
 *
 * The division by 1 + c^2 is the official code's default `rescale` option (1); 'none' and '1+c'
 * are its options 0 and 2. As in the official code, ||g0|| = sqrt(mean(A) + 1e-8),
 * sqrt(phi) = c ||g0|| + 1e-8 and the step scale is sqrt(phi) / (||g_w|| + 1e-8). The official
 * code solves the inner problem with SciPy's SLSQP from w = 1/T on the host; here it is solved
 * exactly on the GPU over every face of the simplex (simplex.ts), from the T x T Gram matrix
 * A = G G^T, so nothing is read back. Task-specific parameters get the plain sum of their task
 * gradients. weights() reports the coefficient of each g_i in the shared update,
 * (1/T + lambda w_i) / rescale, which is 1/T for every task when there is no conflict to avert.
 */
import { ArgumentError } from '../../errors.js';
import { noGrad } from '../../autograd/tape.js';
import { add, div, mul } from '../../ops/binary.js';
import { matmul } from '../../ops/matmul.js';
import { mean, sum } from '../../ops/reduce.js';
import { reshape, stack } from '../../ops/shape-ops.js';
import { relu, sqrt } from '../../ops/unary.js';
import { full } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import {
  accumulateFlat, addSpecific, checkFinite, checkKeys, checkTasks, flattenGrads, perTaskGradients,
  sharedTrainable, taskLosses, taskSpecific,
} from './common.js';
import { cagradWeights, gram, supportMasks } from './simplex.js';

/** The official code's rescale options: 1 + c^2 (its 1, the default), 1 + c (its 2), none (its 0). */
export type CagradRescale = '1+c^2' | '1+c' | 'none';

const RESCALE: { [K in CagradRescale]: (c: number) => number } = {
  '1+c^2': (c) => 1 + c * c,
  '1+c': (c) => 1 + c,
  none: () => 1,
};

/** Options of {@link CAGrad}. */
export interface CagradOptions {
  /** c >= 0: the radius of the ball around g0 relative to ||g0|| (the paper uses c in [0, 1); default 0.5). */
  c?: number;
  /** Final scaling of d (default '1+c^2'). */
  rescale?: CagradRescale;
}

/** CAGrad; see the file comment. */
export class CAGrad implements Balancer {
  readonly name = 'cagrad';
  readonly tasks: readonly string[];
  readonly c: number;
  readonly rescale: CagradRescale;
  private readonly masks: Tensor;
  private coef: Tensor;
  private simplex: Tensor;

  constructor(tasks: readonly string[], options: CagradOptions = {}) {
    const op = 'CAGrad';
    this.tasks = checkTasks(op, tasks);
    checkKeys(op, options, ['c', 'rescale']);
    this.c = checkFinite(op, 'c', options.c ?? 0.5, 0);
    this.rescale = options.rescale ?? '1+c^2';
    if (!(this.rescale in RESCALE)) throw new ArgumentError(op, `rescale must be one of ${Object.keys(RESCALE).join(', ')} (got ${String(this.rescale)})`);
    if (tasks.length > 12) throw new ArgumentError(op, `the exact simplex solver enumerates 2^T faces; ${tasks.length} tasks is too many (at most 12)`);
    this.masks = keep(supportMasks(tasks.length));
    this.coef = keep(full([tasks.length], 1 / tasks.length / RESCALE[this.rescale](this.c)));
    this.simplex = keep(full([tasks.length], 1 / tasks.length));
  }

  /** Per-task gradients, the inner problem, and d (rescaled) into the shared parameters' `.grad`. */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const losses = taskLosses(this.name, ctx, this.tasks);
      const shared = sharedTrainable(this.name, ctx);
      const specific = taskSpecific(ctx);
      const per = perTaskGradients(losses, [...shared, ...specific]);
      const G = stack(per.map((g) => flattenGrads(g.slice(0, shared.length), shared)), 0); // [T, P]
      const T = this.tasks.length;
      const { coef, w } = noGrad(() => {
        const A = gram(G);
        const sqrtPhi = add(mul(sqrt(add(mean(A), 1e-8)), this.c), 1e-8);
        const w = cagradWeights(A, sqrtPhi, this.masks);
        const gwNorm = sqrt(relu(sum(mul(matmul(reshape(w, [1, T]), A), reshape(w, [1, T])))));
        const lambda = div(sqrtPhi, add(gwNorm, 1e-8));
        return { coef: mul(add(mul(w, lambda), 1 / T), 1 / RESCALE[this.rescale](this.c)), w };
      });
      const d = noGrad(() => reshape(matmul(reshape(coef, [1, T]), G), [G.shape[1]!]));
      accumulateFlat(d, shared);
      addSpecific(per, shared.length, specific);
      this.coef.dispose();
      this.coef = keep(coef);
      this.simplex.dispose();
      this.simplex = keep(w);
    });
  }

  /** The coefficients of the g_i in the last shared update, [T]; the caller owns it. */
  weights(): Tensor {
    return tidy(() => mul(this.coef, 1));
  }

  /** The simplex weights w* of the last step's inner problem, [T]; the caller owns it. */
  simplexWeights(): Tensor {
    return tidy(() => mul(this.simplex, 1));
  }

  /** None. */
  parameters(): Tensor[] {
    return [];
  }

  /** The last step's coefficients and simplex weights (nothing else persists between steps). */
  state(): BalancerState {
    return { scalars: {}, tensors: { coef: this.coef, simplex: this.simplex } };
  }

  /** Restores what state() saved. */
  loadState(state: BalancerState): void {
    const op = `${this.name}.loadState`;
    const c = state?.tensors?.coef;
    const s = state?.tensors?.simplex;
    if (!c || !s || c.size !== this.tasks.length || s.size !== this.tasks.length) {
      throw new ArgumentError(op, `state needs 'coef' and 'simplex' with ${this.tasks.length} values each`);
    }
    const nc = keep(noGrad(() => mul(c, 1)));
    const ns = keep(noGrad(() => mul(s, 1)));
    this.coef.dispose();
    this.simplex.dispose();
    this.coef = nc;
    this.simplex = ns;
  }

  /** Frees the masks and the recorded weights. */
  dispose(): void {
    this.masks.dispose();
    this.coef.dispose();
    this.simplex.dispose();
  }
}
