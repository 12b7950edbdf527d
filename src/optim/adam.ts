/**
 * Adam and AdamW, following torch.optim.Adam / AdamW (1.13, single-tensor implementations). With
 * t the parameter's own update count (parameters skipped at a step do not advance):
 *
 *     g = maximize ? -g : g;   Adam: g += weightDecay * w;   AdamW: w *= 1 - lr * weightDecay
 *     m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2   (m = v = 0 before t = 1)
 *     vhat = amsgrad ? (vmax = max(vmax, v)) : v
 *     w -= lr / (1 - beta1^t) * m / (sqrt(vhat) / sqrt(1 - beta2^t) + eps)
 *
 * The bias corrections are computed on the host from t, so each update is one kernel dispatch
 * (shaders/optim.wgsl) with no readback.
 */
import type { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import { ArgumentError } from '../errors.js';
import { adamUpdate } from './kernels.js';
import { Optimizer, checkBoolean, checkNumber, checkUnitInterval, type ParamState, type ParamsInput } from './optimizer.js';

/** Adam/AdamW hyper-parameters (torch's names in camelCase); all optional. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment averages, each in [0, 1) (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  weightDecay?: number;
  /** Use the maximum of past second moments (AMSGrad; default false). */
  amsgrad?: boolean;
  /** Maximise the objective instead of minimising it (default false). */
  maximize?: boolean;
}

/** The complete options of one Adam/AdamW parameter group. */
export type AdamGroupOptions = Required<AdamOptions>;

abstract class AdamBase extends Optimizer<AdamGroupOptions> {
  /** True for AdamW's decoupled weight decay. */
  protected abstract readonly decoupled: boolean;
  protected readonly knownStateNames = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;

  protected validate(o: AdamGroupOptions): void {
    const op = this.name;
    checkNumber(op, 'lr', o.lr);
    checkNumber(op, 'eps', o.eps);
    checkNumber(op, 'weightDecay', o.weightDecay);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new ArgumentError(op, `betas must be a pair of numbers (got ${String(o.betas)})`);
    checkUnitInterval(op, 'betas[0]', o.betas[0]);
    checkUnitInterval(op, 'betas[1]', o.betas[1]);
    checkBoolean(op, 'amsgrad', o.amsgrad);
    checkBoolean(op, 'maximize', o.maximize);
  }

  protected stateNames(o: AdamGroupOptions): readonly string[] {
    return o.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected update(param: Tensor, grad: Tensor, o: AdamGroupOptions, st: ParamState): void {
    const b = st.buffers;
    const first = !b.has('exp_avg') || !b.has('exp_avg_sq');
    if (first) {
      // First update: the kernel treats the state as zeros and writes it without reading.
      b.get('exp_avg')?.dispose();
      b.get('exp_avg_sq')?.dispose();
      b.get('max_exp_avg_sq')?.dispose();
      b.delete('max_exp_avg_sq');
      b.set('exp_avg', this.stateTensor(param));
      b.set('exp_avg_sq', this.stateTensor(param));
      if (o.amsgrad) b.set('max_exp_avg_sq', this.stateTensor(param));
    } else if (o.amsgrad && !b.has('max_exp_avg_sq')) {
      // AMSGrad switched on mid-run (torch would fail here): start the maximum from zeros.
      b.set('max_exp_avg_sq', keep(zerosLike(param)));
    }
    adamUpdate(param, grad, b.get('exp_avg')!, b.get('exp_avg_sq')!, o.amsgrad ? b.get('max_exp_avg_sq')! : null, first, {
      lr: o.lr,
      beta1: o.betas[0],
      beta2: o.betas[1],
      eps: o.eps,
      weightDecay: o.weightDecay,
      decoupled: this.decoupled,
      maximize: o.maximize,
      step: st.step,
    });
  }
}

/** Adam with L2 weight decay (added to the gradient); see the file comment. */
export class Adam extends AdamBase {
  readonly kind = 'Adam';
  protected readonly decoupled = false;

  /** `params`: parameters or parameter groups (whose options override `options`). */
  constructor(params: ParamsInput<AdamGroupOptions>, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false }, options);
  }
}

/** AdamW: Adam with decoupled weight decay (w *= 1 - lr * weightDecay each step); see the file comment. */
export class AdamW extends AdamBase {
  readonly kind = 'AdamW';
  protected readonly decoupled = true;

  /** `params`: parameters or parameter groups (whose options override `options`). */
  constructor(params: ParamsInput<AdamGroupOptions>, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false }, options);
  }
}
