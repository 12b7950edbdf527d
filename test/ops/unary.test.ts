/**
 * Elementwise unary ops: forward against float64 references (random shapes, special values) and
 * gradients against finite differences, on input ranges that keep away from kinks and poles.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, type InputSpec } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';
import { awayFromZero, randomShape } from './random-shapes.js';

/** PyTorch's sign: 0 for NaN (torch.sign compares with 0). */
const torchSign = (v: number) => (v > 0 ? 1 : v < 0 ? -1 : 0);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const clampRef = (lo: number, hi: number) => (v: number) => (Number.isNaN(v) ? v : Math.min(Math.max(v, lo), hi));
/** C's pow (PyTorch): 1^y = 1, x^0 = 1 (even for NaN) and (-1)^+-inf = 1; otherwise JavaScript's ** agrees. */
const cpow = (x: number, y: number) => (x === 1 || y === 0 || (x === -1 && Math.abs(y) === Infinity) ? 1 : x ** y);

/** f(values) read back, freeing the tensors. */
async function run(f: (x: w.Tensor) => w.Tensor, values: readonly number[]): Promise<Float32Array> {
  const x = w.fromArray(values, [values.length]);
  const y = f(x);
  const out = (await y.data()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

interface UnaryCase {
  name: string;
  fn: (x: w.Tensor) => w.Tensor;
  ref: (v: number) => number;
  /** Inputs for the gradient check: a range, or 'away' for |x| in [0.1, 2] with random signs. */
  domain: [number, number] | 'away';
}

const CASES: UnaryCase[] = [
  { name: 'neg', fn: w.neg, ref: (v) => -v, domain: [-2, 2] },
  { name: 'exp', fn: w.exp, ref: Math.exp, domain: [-3, 3] },
  { name: 'log', fn: w.log, ref: Math.log, domain: [0.2, 4] },
  { name: 'sqrt', fn: w.sqrt, ref: Math.sqrt, domain: [0.2, 4] },
  { name: 'rsqrt', fn: w.rsqrt, ref: (v) => 1 / Math.sqrt(v), domain: [0.3, 4] },
  { name: 'abs', fn: w.abs, ref: Math.abs, domain: 'away' },
  { name: 'sign', fn: w.sign, ref: torchSign, domain: 'away' },
  { name: 'relu', fn: w.relu, ref: (v) => (Number.isNaN(v) ? v : Math.max(v, 0)), domain: 'away' },
  { name: 'leakyRelu', fn: (x) => w.leakyRelu(x), ref: (v) => (v > 0 ? v : 0.01 * v), domain: 'away' },
  { name: 'leakyRelu(0.2)', fn: (x) => w.leakyRelu(x, 0.2), ref: (v) => (v > 0 ? v : 0.2 * v), domain: 'away' },
  { name: 'sigmoid', fn: w.sigmoid, ref: sigmoid, domain: [-6, 6] },
  { name: 'tanh', fn: w.tanh, ref: Math.tanh, domain: [-3, 3] },
  { name: 'square', fn: w.square, ref: (v) => v * v, domain: [-2, 2] },
  { name: 'reciprocal', fn: w.reciprocal, ref: (v) => 1 / v, domain: 'away' },
  { name: 'affine(2.5, -1)', fn: (x) => w.affine(x, 2.5, -1), ref: (v) => 2.5 * v - 1, domain: [-2, 2] },
  { name: 'affine(-0.5)', fn: (x) => w.affine(x, -0.5), ref: (v) => -0.5 * v, domain: [-2, 2] },
  { name: 'pow(x, 2)', fn: (x) => w.pow(x, 2), ref: (v) => v ** 2, domain: [-2, 2] },
  { name: 'pow(x, 3)', fn: (x) => w.pow(x, 3), ref: (v) => v ** 3, domain: [-2, 2] },
  { name: 'pow(x, -1)', fn: (x) => w.pow(x, -1), ref: (v) => v ** -1, domain: 'away' },
  { name: 'pow(x, -2)', fn: (x) => w.pow(x, -2), ref: (v) => v ** -2, domain: 'away' },
  { name: 'pow(x, 0)', fn: (x) => w.pow(x, 0), ref: () => 1, domain: [-2, 2] },
  { name: 'pow(x, 1)', fn: (x) => w.pow(x, 1), ref: (v) => v, domain: [-2, 2] },
  { name: 'pow(x, 0.5)', fn: (x) => w.pow(x, 0.5), ref: (v) => cpow(v, 0.5), domain: [0.2, 4] },
  { name: 'pow(x, 1.5)', fn: (x) => w.pow(x, 1.5), ref: (v) => v ** 1.5, domain: [0.2, 3] },
  { name: 'pow(x, -2.5)', fn: (x) => w.pow(x, -2.5), ref: (v) => v ** -2.5, domain: [0.5, 3] },
  { name: 'clamp(-0.5, 0.7)', fn: (x) => w.clamp(x, -0.5, 0.7), ref: clampRef(-0.5, 0.7), domain: [-2, 2] },
  { name: 'clamp(min 0.3)', fn: (x) => w.clamp(x, 0.3), ref: clampRef(0.3, Infinity), domain: [-2, 2] },
  { name: 'clamp(max -0.3)', fn: (x) => w.clamp(x, -Infinity, -0.3), ref: clampRef(-Infinity, -0.3), domain: [-2, 2] },
];

/** Input spec for a case on `shape`; clamp inputs keep 0.05 away from the bounds (kinks). */
function inputFor(c: UnaryCase, shape: number[], seed: number): InputSpec {
  const g = new w.Generator(seed);
  const n = R.size(shape);
  if (c.domain === 'away') return { shape, values: awayFromZero(g, n) };
  const [lo, hi] = c.domain;
  const values = Array.from({ length: n }, () => {
    for (;;) {
      const v = lo + (hi - lo) * g.next();
      if (!c.name.startsWith('clamp') || [-0.5, 0.7, 0.3, -0.3].every((b) => Math.abs(v - b) > 0.05)) return v;
    }
  });
  return { shape, values };
}

describe.each(devices())('unary ops on %s', () => {
  describe.each(CASES)('$name', (c) => {
    it('forward and gradient on random shapes', async () => {
      const g = new w.Generator(c.name.length * 7919);
      // Rank 0 to 4, odd sizes and size-1 dims; element counts not a multiple of 4 test the vec4 tail.
      for (const rank of [0, 1, 3, 4]) {
        const shape = randomShape(g, rank);
        await checkOp({
          inputs: [inputFor(c, shape, rank + 11)],
          fn: c.fn,
          ref: (x) => R.map(x, c.ref),
          seed: rank,
          grad: rank !== 4, // one rank-4 forward keeps the file fast; ranks 0, 1, 3 check gradients
        });
      }
    });

    it('special values (NaN, +-inf, +-0, tiny, huge) follow PyTorch', async () => {
      const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 1e30, -1e30, 0.5, -0.5, 3, -3];
      const got = await run(c.fn, specials);
      // f32 cannot hold results beyond its range: compare with the reference rounded to f32.
      const want = Float32Array.from(specials.map(c.ref));
      // A finite reference that overflows f32 must come out as that infinity; that is what Float32Array gives.
      expectClose(got, want, 1e-6, 1e-5, c.name);
    });
  });

  it('pow with a negative base and integer exponents keeps the sign; fractional exponents give NaN', async () => {
    for (const e of [2, 3, -1, -2, -3, 4]) {
      await checkOp({
        inputs: [{ shape: [2, 7], range: [-2, -0.3] }],
        fn: (x) => w.pow(x, e),
        ref: (x) => R.map(x, (v) => v ** e),
        seed: e + 10,
      });
    }
    await checkOp({
      inputs: [{ shape: [5], values: [-2, -0.5, 0, 0.5, 2] }],
      fn: (x) => w.pow(x, 0.5),
      ref: (x) => R.map(x, (v) => v ** 0.5),
      grad: false,
    });
  });

  it('pow at 0 and with special exponents follows C (0^-2 = inf, (-0)^-1 = -inf, x^0 = 1)', async () => {
    const bases = [0, -0, 1, -1, 2, -2, NaN, Infinity, -Infinity];
    for (const e of [-3, -2, -0.5, 0, 0.5, 2, 3]) {
      const got = await run((x) => w.pow(x, e), bases);
      expectClose(got, Float32Array.from(bases, (v) => cpow(v, e)), 1e-6, 1e-5, `pow(x, ${e})`);
    }
  });

  it('pow(x, 0) has gradient exactly 0, also at x = 0 (as PyTorch)', async () => {
    const x = w.fromArray([0, 1, -2, 0.5], [4], { requiresGrad: true });
    const [gx] = w.grad(w.sum(w.pow(x, 0)), [x]);
    expect(await gx!.toArray()).toEqual([0, 0, 0, 0]);
    gx!.dispose();
    x.dispose();
  });

  it('tanh is accurate near 0 and saturates without NaN', async () => {
    const vals = [1e-7, -1e-6, 1e-4, -1e-3, 0.01, 0.1, -0.124, 0.126, 0.3, 1, 10, -20, 44, -45, 100, -1000];
    const got = await run(w.tanh, vals);
    expectClose(got, vals.map(Math.tanh), 0, 1e-6, 'tanh');
  });

  it('gradients at the kinks follow PyTorch: relu 0, abs 0, leakyRelu slope, clamp passes at the bounds', async () => {
    const x = w.fromArray([0, -1, 1, 0.3, 0.7], [5], { requiresGrad: true });
    const cases: [string, (t: w.Tensor) => w.Tensor, number[]][] = [
      ['relu', w.relu, [0, 0, 1, 1, 1]],
      ['abs', w.abs, [0, -1, 1, 1, 1]],
      ['leakyRelu', (t) => w.leakyRelu(t, 0.2), [0.2, 0.2, 1, 1, 1]],
      ['clamp', (t) => w.clamp(t, 0.3, 0.7), [0, 0, 0, 1, 1]],
      ['sign', w.sign, [0, 0, 0, 0, 0]],
    ];
    for (const [name, f, want] of cases) {
      const [gx] = w.grad(w.sum(f(x)), [x]);
      expectClose(await gx!.data(), want, 1e-6, 0, `${name} gradient`);
      gx!.dispose();
    }
    x.dispose();
  });

  it('clamp with min > max gives max everywhere, and a NaN bound gives NaN (as torch.clamp)', async () => {
    const vals = [-3, 0, 0.5, 2, NaN];
    expectClose(await run((x) => w.clamp(x, 1, 0), vals), [0, 0, 0, 0, NaN], 0, 0, 'clamp(1, 0)');
    expectClose(await run((x) => w.clamp(x, NaN, 1), vals), vals.map(() => NaN), 0, 0, 'clamp(NaN, 1)');
    expectClose(await run((x) => w.clamp(x, undefined, NaN), vals), vals.map(() => NaN), 0, 0, 'clamp(-inf, NaN)');
    // No gradient flows when no x satisfies min <= x <= max.
    const x = w.fromArray([-3, 0.5, 2], [3], { requiresGrad: true });
    const [gx] = w.grad(w.sum(w.clamp(x, 1, 0)), [x]);
    expect(await gx!.toArray()).toEqual([0, 0, 0]);
    [x, gx!].forEach((t) => t.dispose());
  });

  describe('bad input', () => {
    it('an i32 tensor gives DTypeError naming the op', () => {
      const x = w.fromArray(new Int32Array([1, 2, 3]), [3]);
      for (const [name, f] of [
        ['exp', w.exp],
        ['relu', w.relu],
        ['pow', (t: w.Tensor) => w.pow(t, 2)],
      ] as const) {
        expect(() => f(x)).toThrow(w.DTypeError);
        expect(() => f(x)).toThrow(new RegExp(`^${name}: .*i32`));
      }
      x.dispose();
    });

    it('a disposed tensor gives DisposedError naming the op, and allocates nothing', () => {
      const x = w.fromArray([1, 2, 3], [3]);
      x.dispose();
      const before = w.runtime().memory().live;
      expect(() => w.exp(x)).toThrow(w.DisposedError);
      expect(() => w.sigmoid(x)).toThrow(/^sigmoid: tensor of shape \[3\] was already disposed/);
      expect(w.runtime().memory().live).toBe(before);
    });
  });

  it('assertFinite resolves for finite values and rejects NaN or inf with op and shape', async () => {
    const ok = w.fromArray([1, -2, 3e38, -3e38, 0, 5], [2, 3]);
    await expect(w.assertFinite(ok, 'myop')).resolves.toBeUndefined();
    ok.dispose();
    for (const bad of [NaN, Infinity, -Infinity]) {
      // The bad value sits in the vec4 tail (element 4 of 5).
      const x = w.fromArray([1, 2, 3, 4, bad], [5, 1]);
      await expect(w.assertFinite(x, 'myop')).rejects.toThrow(w.NonFiniteError);
      await expect(w.assertFinite(x, 'myop')).rejects.toThrow(/^myop: 1 of 5 values are NaN or infinite \(input shape \[5,1\]\)/);
      x.dispose();
    }
  });

  it('assertFinite ignores stale values past the end of a reused buffer', async () => {
    const junk = w.fromArray(new Array(7).fill(NaN), [7]);
    junk.dispose();
    w.flush(); // the freed buffer goes back to the pool and is likely handed out next
    const x = w.fromArray([1, 2, 3], [3]);
    await expect(w.assertFinite(x)).resolves.toBeUndefined();
    x.dispose();
  });
});
