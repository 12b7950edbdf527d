/**
 * GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018, arXiv 1711.02257), Algorithm 1.
 * Learnable task weights w (init 1, [T]); at every step, with W the last shared layer's weight:
 *
 *     G_i = || grad_W (w_i L_i) ||_2 = |w_i| || grad_W L_i ||_2          Gbar = mean_i G_i
 *     Ltilde_i = L_i(t) / L_i(0)    r_i = Ltilde_i / mean_j Ltilde_j     target_i = Gbar r_i^alpha
 *     L_grad = sum_i | G_i - target_i |_1    (target_i held constant)
 *
 * and in this order: (1) the per-task gradients of W only, through `grad(L_i, [W], {retainGraph})`
 * (the engine runs just the sub-graph from L_i down to W, never the layers below W); (2) the model's
 * gradients from one backward of sum_i w_i L_i with the weights of this step (before their update);
 * (3) grad of L_grad with respect to w alone, one step of w's own optimiser; (4) renormalise so that
 * sum_i w_i = T. When the model offers its representation z and every shared parameter lies below
 * it, (1) also returns each task's gradients of z and of the heads' parameters, and (2) becomes one
 * backward of sum_i w_i dL_i/dz through the encoder plus w_i times each head's gradients: the same
 * gradients (linearity), without running the heads' backward a second time, so the overhead over
 * equal weights is the T - 1 extra walks from z down to W. L_i(0) is the first losses this balancer sees (the paper's t = 0) unless
 * `initialLosses` gives them (the paper suggests e.g. log C for a C-class cross-entropy, whose value
 * at initialisation is known). Everything stays on the GPU; a non-finite w gradient (a NaN loss) is
 * replaced by 0 so the weights stay finite.
 *
 * One guard beyond Algorithm 1: before renormalising, weights are clamped at `minWeight` (default
 * 0). The paper's weights are meant to be non-negative, but an optimiser step can carry a small
 * weight past zero when the equilibrium lies near it (the toy problem's sigma = 100 task sits at
 * w ~ 0.01); a negative weight turns that task's descent into ascent and its loss diverges. Nothing
 * changes while every weight stays above the floor; minWeight: -Infinity disables the guard.
 *
 * The paper updates w by gradient descent on L_grad with the network's optimiser type and leaves the
 * step size open; we use Adam with lr 0.025 (the value commonly used for the weights in public
 * reimplementations) and let `optimizer`/`lr` change it. Where published implementations differ
 * from Algorithm 1 (read, not copied): LibMTL parameterises w = T softmax(theta) (no explicit
 * renormalisation), starts after a first epoch of equal weights with L_i(0) = that epoch's mean
 * loss, takes G_i over all shared parameters' gradients and trains theta with the model's optimiser;
 * brianlan/pytorch-grad-norm puts w in the model's Adam (same lr) and renormalises once per outer
 * iteration; LucasBoTang/GradNorm initialises w to sum 1 (renormalising to 1, not T); some
 * reimplementations use r^-alpha (inverting the asymmetry), take G over W and its bias, build a new
 * weight optimiser every step (resetting its moments), or read L_i and G_i back to the host.
 */
import { ArgumentError, fmtShapes } from '../../errors.js';
import { backward, grad } from '../../autograd/backward.js';
import { detach, noGrad } from '../../autograd/tape.js';
import { add, div, mul, pow, sub, where } from '../../ops/binary.js';
import { mean, sum } from '../../ops/reduce.js';
import { narrow, stack } from '../../ops/shape-ops.js';
import { abs, clamp, nonFinite, sqrt, square } from '../../ops/unary.js';
import { Adam } from '../../optim/adam.js';
import type { Optimizer, BaseOptions, OptimizerStateDict } from '../../optim/optimizer.js';
import { SGD } from '../../optim/sgd.js';
import { fromArray, ones, scalar } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import {
  addSpecific, checkFinite, checkKeys, checkTasks, copyInto, sharedBelow, stackLosses, stateScalars, stateTensor, taskLosses, taskSpecific,
} from './common.js';

/** The optimiser types GradNorm's weights can use. */
export type GradNormOptimizer = 'adam' | 'sgd';

const OPTIMIZERS: { [K in GradNormOptimizer]: (w: Tensor, lr: number) => Optimizer<BaseOptions> } = {
  adam: (w, lr) => new Adam([w], { lr }) as unknown as Optimizer<BaseOptions>,
  sgd: (w, lr) => new SGD([w], { lr }) as unknown as Optimizer<BaseOptions>,
};

/** Options of {@link GradNorm}. */
export interface GradNormOptions {
  /** Asymmetry alpha (default 1.5, the paper's NYUv2 value; 0 equalises the gradient norms). */
  alpha?: number;
  /** Learning rate of w's own optimiser (default 0.025). */
  lr?: number;
  /** Optimiser type for w (default 'adam'). */
  optimizer?: GradNormOptimizer;
  /** L_i(0) per task (list in task order or record by name); default: the first step's losses. */
  initialLosses?: readonly number[] | Readonly<Record<string, number>>;
  /** Floor of every weight before renormalisation (default 0; -Infinity: no floor). See the file comment. */
  minWeight?: number;
}

const KEYS = ['alpha', 'lr', 'optimizer', 'initialLosses', 'minWeight'] as const;

/** GradNorm; see the file comment. */
export class GradNorm implements Balancer {
  readonly name = 'gradnorm';
  readonly tasks: readonly string[];
  readonly alpha: number;
  readonly lr: number;
  readonly minWeight: number;
  readonly optimizerKind: GradNormOptimizer;
  /** The learned weights w, [T] (sum T after every step); trained by GradNorm's own optimiser. */
  readonly w: Tensor;
  private readonly opt: Optimizer<BaseOptions>;
  private initial: Tensor | null = null;
  private used: Tensor;
  private norms: Tensor;

  constructor(tasks: readonly string[], options: GradNormOptions = {}) {
    const op = 'GradNorm';
    this.tasks = checkTasks(op, tasks);
    checkKeys(op, options, KEYS);
    this.alpha = checkFinite(op, 'alpha', options.alpha ?? 1.5, 0);
    this.lr = checkFinite(op, 'lr', options.lr ?? 0.025, 0);
    this.minWeight = options.minWeight ?? 0;
    if (typeof this.minWeight !== 'number' || Number.isNaN(this.minWeight) || this.minWeight >= 1) {
      throw new ArgumentError(op, `minWeight must be a number below 1 (or -Infinity), got ${String(options.minWeight)}`);
    }
    const kind = options.optimizer ?? 'adam';
    if (!(kind in OPTIMIZERS)) throw new ArgumentError(op, `optimizer must be one of ${Object.keys(OPTIMIZERS).join(', ')} (got ${String(kind)})`);
    this.optimizerKind = kind;
    if (options.initialLosses !== undefined) {
      const il = options.initialLosses;
      const values = Array.isArray(il) ? [...il] : this.tasks.map((t) => (il as Record<string, number>)[t]!);
      if (values.length !== tasks.length) throw new ArgumentError(op, `${values.length} initial losses for ${tasks.length} tasks`);
      values.forEach((v, i) => checkFinite(op, `initial loss of task '${tasks[i]}'`, v, 0, true));
      this.initial = keep(fromArray(values, [tasks.length]));
    }
    this.w = keep(ones([tasks.length], { requiresGrad: true }));
    this.w.name = 'balancer.gradnorm_weights';
    this.opt = OPTIMIZERS[kind](this.w, this.lr);
    this.used = keep(ones([tasks.length]));
    this.norms = keep(ones([tasks.length]));
  }

  /** W, checked: present and shared (an ArgumentError naming it otherwise). */
  private layer(ctx: BalanceContext): Tensor {
    const W = ctx.lastSharedLayer;
    if (!W) {
      throw new ArgumentError(this.name, 'the model offers no last shared layer (ctx.lastSharedLayer is null); GradNorm needs W, the weight of the last layer all tasks share');
    }
    if (!ctx.sharedParameters.includes(W)) {
      throw new ArgumentError(this.name, `ctx.lastSharedLayer '${W.name ?? 'unnamed'}' (shape ${fmtShapes(W.shape)}) is not among ctx.sharedParameters; W must be a shared parameter`);
    }
    if (!W.requiresGrad) throw new ArgumentError(this.name, `ctx.lastSharedLayer '${W.name ?? 'unnamed'}' is frozen (does not require gradients)`);
    return W;
  }

  /** One GradNorm step, in the order of the file comment. */
  backward(ctx: BalanceContext): void {
    const W = this.layer(ctx);
    const T = this.tasks.length;
    tidy(() => {
      const losses = taskLosses(this.name, ctx, this.tasks);
      const L = stackLosses(losses);
      const Ld = detach(L);
      if (!this.initial) this.initial = keep(noGrad(() => mul(Ld, 1)));
      const wNow = detach(this.w);
      const used = noGrad(() => mul(wNow, 1));
      const z = ctx.representation;
      let n: Tensor;
      if (z && z.requiresGrad && sharedBelow(z, ctx)) {
        // (1) and (2) sharing the heads' backward: each task's gradients of W, of z and of the
        // task-specific parameters in one walk that stops at W; then one backward of
        // sum_i w_i dL_i/dz through the encoder (linearity: the same gradients as a backward of
        // sum_i w_i L_i, without running the heads twice).
        const specific = taskSpecific(ctx);
        const per = losses.map((l, i) => {
          const g = grad(l, [W, z, ...specific], { retainGraph: true, allowUnused: true });
          if (!g[0]) throw new ArgumentError(this.name, `the loss of task '${this.tasks[i]}' does not depend on W ('${W.name ?? 'unnamed'}')`);
          return g;
        });
        n = noGrad(() => stack(per.map((g) => sqrt(sum(square(g[0]!)))), 0));
        const scales = this.tasks.map((_, i) => narrow(wNow, 0, i, 1));
        const gz = noGrad(() => per.flatMap((g, i) => (g[1] ? [mul(g[1], scales[i]!)] : [])).reduce((a, b) => add(a, b)));
        backward(z, gz);
        addSpecific(per, 2, specific, scales);
      } else {
        // (1) ||grad_W L_i||, the sub-graph from each loss down to W only; (2) one full backward.
        n = noGrad(() => stack(losses.map((l) => sqrt(sum(square(grad(l, [W], { retainGraph: true })[0]!)))), 0));
        backward(sum(mul(L, wNow)));
      }
      // (3) L_grad, differentiated with respect to w only (targets constant).
      // |w_i| n_i; with the floor at >= 0 the weights are non-negative and w_i n_i is the same value
      // with a useful gradient at w_i = 0 (|w|' is 0 there, which would pin a zero weight for ever).
      const G = mul(this.minWeight >= 0 ? this.w : abs(this.w), n);
      const target = noGrad(() => {
        const ratio = div(Ld, this.initial!);
        return mul(pow(div(ratio, mean(ratio)), this.alpha), mean(G));
      });
      const [gw] = grad(sum(abs(sub(G, target))), [this.w]);
      this.w.grad = keep(noGrad(() => where(nonFinite(gw!), scalar(0), gw!)));
      this.opt.step();
      this.w.grad.dispose();
      this.w.grad = null;
      // (4) floor, then sum_i w_i = T.
      copyInto(this.name, this.w, noGrad(() => {
        const f = this.minWeight === -Infinity ? this.w : clamp(this.w, this.minWeight);
        return mul(div(f, sum(f)), T);
      }));
      this.used.dispose();
      this.used = keep(used);
      this.norms.dispose();
      this.norms = keep(noGrad(() => mul(G, 1)));
    });
  }

  /** The weights used in the last step's model backward (before that step's update), [T]; the caller owns it. */
  weights(): Tensor {
    return tidy(() => mul(this.used, 1));
  }

  /** G_i = |w_i| ||grad_W L_i|| of the last step, [T]; the caller owns it (for logs and tests). */
  gradNorms(): Tensor {
    return tidy(() => mul(this.norms, 1));
  }

  /** None: w has its own optimiser (the model's must not train it). */
  parameters(): Tensor[] {
    return [];
  }

  /** w, L(0) when recorded, the weights of the last step, and w's optimiser state. */
  state(): BalancerState {
    const sd = this.opt.stateDict();
    const entry = sd.state[0];
    const tensors: Record<string, Tensor> = { weights: this.w, used: this.used };
    if (this.initial) tensors.initialLosses = this.initial;
    for (const [k, t] of Object.entries(entry?.buffers ?? {})) tensors[`optim.${k}`] = t;
    return { scalars: { optimStep: entry ? [entry.step] : [] }, tensors };
  }

  /** Restores a state(): copies into this balancer's own tensors (w keeps its identity). */
  loadState(state: BalancerState): void {
    const op = `${this.name}.loadState`;
    const w = stateTensor(op, state, 'weights');
    const used = stateTensor(op, state, 'used');
    const step = stateScalars(op, state, 'optimStep');
    const buffers: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(state.tensors)) if (k.startsWith('optim.')) buffers[k.slice(6)] = t;
    const cur = this.opt.stateDict();
    const sd: OptimizerStateDict = { kind: cur.kind, paramGroups: cur.paramGroups, state: step.length ? { 0: { step: step[0]!, buffers } } : {} };
    this.opt.loadStateDict(sd); // validates the optimiser part before anything is copied
    copyInto(op, this.w, w);
    copyInto(op, this.used, used);
    const il = state.tensors.initialLosses;
    this.initial?.dispose();
    this.initial = il ? keep(noGrad(() => mul(il, 1))) : null;
  }

  /** Frees w, L(0) and the optimiser state. */
  dispose(): void {
    this.opt.dispose();
    this.w.dispose();
    this.initial?.dispose();
    this.used.dispose();
    this.norms.dispose();
  }
}
