/**
 * Float64 reference implementations of the optimiser updates and gradient clipping, written from
 * PyTorch 1.13's single-tensor code for clarity, not speed. Used for shapes too large for the
 * committed fixtures (several workgroups, more than 64 clip partials).
 */

/** One SGD step on plain arrays (in place); returns the new momentum buffer (or null). */
export function refSgd(
  w: Float64Array,
  g: ArrayLike<number>,
  buf: Float64Array | null,
  o: { lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number },
): Float64Array | null {
  const d = Float64Array.from(g, (v, i) => v + o.weightDecay * w[i]!);
  let step: Float64Array = d;
  if (o.momentum !== 0) {
    if (!buf) buf = Float64Array.from(d);
    else for (let i = 0; i < d.length; i++) buf[i] = o.momentum * buf[i]! + (1 - o.dampening) * d[i]!;
    step = o.nesterov ? d.map((v, i) => v + o.momentum * buf![i]!) : buf;
  }
  for (let i = 0; i < w.length; i++) w[i] = w[i]! - o.lr * step[i]!;
  return buf;
}

/** Adam/AdamW state of one parameter. */
export interface RefAdamState {
  step: number;
  m: Float64Array;
  v: Float64Array;
  vmax: Float64Array;
}

/** One Adam (decoupled false) or AdamW step on plain arrays, in place. */
export function refAdam(
  w: Float64Array,
  g0: ArrayLike<number>,
  s: RefAdamState,
  o: { lr: number; betas: readonly [number, number]; eps: number; weightDecay: number; amsgrad: boolean; decoupled: boolean },
): void {
  const [b1, b2] = o.betas;
  s.step++;
  for (let i = 0; i < w.length; i++) {
    let g = g0[i]!;
    if (o.decoupled) w[i] = w[i]! * (1 - o.lr * o.weightDecay);
    else g += o.weightDecay * w[i]!;
    s.m[i] = b1 * s.m[i]! + (1 - b1) * g;
    s.v[i] = b2 * s.v[i]! + (1 - b2) * g * g;
    s.vmax[i] = Math.max(s.vmax[i]!, s.v[i]!);
    const vhat = o.amsgrad ? s.vmax[i]! : s.v[i]!;
    const denom = Math.sqrt(vhat) / Math.sqrt(1 - b2 ** s.step) + o.eps;
    w[i] = w[i]! - (o.lr / (1 - b1 ** s.step)) * (s.m[i]! / denom);
  }
}

/** Global p-norm of all gradients (p = Infinity for the max norm). */
export function refNorm(grads: readonly ArrayLike<number>[], p: number): number {
  let acc = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) {
      const a = Math.abs(g[i]!);
      acc = p === Infinity ? Math.max(acc, a) : acc + a ** p;
    }
  }
  return p === Infinity ? acc : acc ** (1 / p);
}
