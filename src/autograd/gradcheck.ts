/**
 * Numeric gradient check: compares backward() against central finite differences of a scalar
 * projection sum(f(x) * w) with a fixed random w. Used by the tests; useful for custom ops too.
 */
import { GradError } from '../errors.js';
import { fromArray } from '../tensor/creation.js';
import { Generator } from '../tensor/random.js';
import { sizeOf } from '../tensor/shape.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { grad } from './backward.js';
import { noGrad } from './tape.js';
import * as k from '../ops/kernels/index.js';

/** Options for {@link gradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2, suited to f32). */
  eps?: number;
  /** Allowed |analytic - numeric| <= atol + rtol * |numeric| (defaults 2e-3 and 2e-2). */
  atol?: number;
  rtol?: number;
  /** At most this many coordinates per input are probed (default 24, chosen at random). */
  maxProbes?: number;
  seed?: number;
}

/** One probed coordinate that disagreed. */
export interface GradMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * Checks the gradients of `fn` at `inputs` (host arrays with shapes). Returns the worst mismatches
 * (empty when all probes agree); throws nothing on disagreement so tests can print details.
 */
export async function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly { data: ArrayLike<number>; shape: readonly number[] }[],
  opts: GradcheckOptions = {},
): Promise<GradMismatch[]> {
  const gen = new Generator(opts.seed ?? 7);
  const hosts = inputs.map((i) => Float64Array.from(i.data));

  // Fixed projection weights, shaped like the output (the probe run frees everything it made).
  const outShape = noGrad(() => tidy(() => [...fn(...hosts.map((h, i) => fromArray(h, inputs[i]!.shape))).shape]));
  const w = fromArray(gen.uniform(sizeOf(outShape), -1, 1), outShape);
  try {
    return await compare(fn, inputs, hosts, w, gen, opts);
  } finally {
    w.dispose();
  }
}

/** Analytic gradients (one backward seeded with w) against central differences of sum(fn(x) * w). */
async function compare(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly { data: ArrayLike<number>; shape: readonly number[] }[],
  hosts: Float64Array[],
  w: Tensor,
  gen: Generator,
  opts: GradcheckOptions,
): Promise<GradMismatch[]> {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;

  const objective = async (values: Float64Array[]): Promise<number> => {
    const t = noGrad(() =>
      tidy(() => {
        const y = fn(...values.map((h, i) => fromArray(h, inputs[i]!.shape)));
        const p = k.mul(y, w);
        return k.reduce('sum', p.view([p.size]), [0]);
      }),
    );
    const v = (await t.data())[0]!;
    t.dispose();
    return v;
  };

  const analytic = await (async () => {
    const gs = tidy(() => {
      const leaves = hosts.map((h, i) => fromArray(h, inputs[i]!.shape, { requiresGrad: true }));
      const y = fn(...leaves);
      if (!y.requiresGrad) throw new GradError('gradcheck: the function output does not depend on its inputs');
      // d sum(y * w) / dx is the backward of y seeded with w.
      return grad(y, leaves, { gradOutputs: [w], allowUnused: true });
    });
    try {
      return await Promise.all(gs.map(async (g) => (g ? Float64Array.from(await g.data()) : null)));
    } finally {
      gs.forEach((g) => g?.dispose());
    }
  })();

  const bad: GradMismatch[] = [];
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!;
    const idx = Array.from({ length: h.length }, (_, j) => j);
    for (let j = idx.length - 1; j > 0; j--) {
      const r = Math.floor(gen.next() * (j + 1));
      [idx[j], idx[r]] = [idx[r]!, idx[j]!];
    }
    for (const j of idx.slice(0, opts.maxProbes ?? 24)) {
      const orig = h[j]!;
      h[j] = orig + eps;
      const up = await objective(hosts);
      h[j] = orig - eps;
      const down = await objective(hosts);
      h[j] = orig;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[i]?.[j] ?? 0;
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) bad.push({ input: i, index: j, analytic: a, numeric });
    }
  }
  return bad;
}
