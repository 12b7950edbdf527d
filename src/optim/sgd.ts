/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
 * following torch.optim.SGD (1.13, single-tensor implementation):
 *
 *     d = (maximize ? -g : g) + weightDecay * w
 *     buf = d on a parameter's first momentum step, else momentum * buf + (1 - dampening) * d
 *     w -= lr * (nesterov ? d + momentum * buf : buf)        (w -= lr * d when momentum is 0)
 *
 * Each parameter is updated by one fused kernel dispatch (shaders/optim.wgsl).
 */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { sgdUpdate } from './kernels.js';
import { Optimizer, checkBoolean, checkNumber, type ParamState, type ParamsInput } from './optimizer.js';

/** SGD hyper-parameters (torch's names in camelCase); only `lr` is required. */
export interface SGDOptions {
  lr: number;
  /** Momentum factor (default 0: no momentum buffer). */
  momentum?: number;
  /** Dampening of the gradient's contribution to the momentum buffer (default 0). */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Maximise the objective instead of minimising it (default false). */
  maximize?: boolean;
}

/** The complete options of one SGD parameter group. */
export type SGDGroupOptions = Required<SGDOptions>;

/** SGD; see the file comment for the update rule. */
export class SGD extends Optimizer<SGDGroupOptions> {
  readonly kind = 'SGD';
  protected readonly knownStateNames = ['momentum_buffer'] as const;

  /** `params`: parameters or parameter groups (whose options override `options`). */
  constructor(params: ParamsInput<SGDGroupOptions>, options: SGDOptions) {
    if (options?.lr === undefined) throw new ArgumentError('SGD', 'lr is required (SGD has no default learning rate)');
    super(params, { lr: options.lr, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false }, options);
  }

  protected validate(o: SGDGroupOptions): void {
    const op = this.name;
    checkNumber(op, 'lr', o.lr);
    checkNumber(op, 'momentum', o.momentum);
    checkNumber(op, 'weightDecay', o.weightDecay);
    checkNumber(op, 'dampening', o.dampening, -Infinity);
    checkBoolean(op, 'nesterov', o.nesterov);
    checkBoolean(op, 'maximize', o.maximize);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new ArgumentError(op, `Nesterov momentum needs momentum > 0 and dampening 0 (got momentum ${o.momentum}, dampening ${o.dampening})`);
    }
  }

  protected stateNames(o: SGDGroupOptions): readonly string[] {
    return o.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected update(param: Tensor, grad: Tensor, o: SGDGroupOptions, st: ParamState): void {
    let buf: Tensor | null = null;
    let first = false;
    if (o.momentum !== 0) {
      buf = st.buffers.get('momentum_buffer') ?? null;
      if (!buf) {
        buf = this.stateTensor(param);
        st.buffers.set('momentum_buffer', buf);
        first = true;
      }
    }
    sgdUpdate(param, grad, buf, first, o);
  }
}
