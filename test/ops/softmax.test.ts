/**
 * softmax, logSoftmax and logsumexp along any axis: forward against float64 references, gradients
 * against finite differences, stability for large inputs, and -inf / +inf / NaN rows.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';
import { randomShape } from './random-shapes.js';

type Axes = number | number[] | undefined;

/** f(x) for host values: shape and values read back, tensors freed. */
async function run1(f: (x: w.Tensor) => w.Tensor, x: R.ND): Promise<{ shape: number[]; data: Float32Array }> {
  const t = w.fromArray(x.data, x.shape);
  const y = f(t);
  const out = { shape: [...y.shape], data: (await y.data()) as Float32Array };
  t.dispose();
  y.dispose();
  return out;
}

/** Values rounded to f32, so the reference sees exactly what the GPU sees. */
const f32 = (xs: ArrayLike<number>) => Array.from(xs, Math.fround);

describe.each(devices())('softmax family on %s', () => {
  describe.each([
    ['softmax', w.softmax, false],
    ['logSoftmax', w.logSoftmax, true],
  ] as const)('%s', (name, f, log) => {
    it('along the first, middle and last axis of random shapes (forward and gradient)', async () => {
      const g = new w.Generator(name.length);
      const cases: [number[], number][] = [
        [randomShape(g, 3).map((d) => d + 1), 0],
        [randomShape(g, 3).map((d) => d + 1), 1],
        [randomShape(g, 3).map((d) => d + 1), 2],
        [randomShape(g, 3).map((d) => d + 1), -1],
        [randomShape(g, 3), -2],
        [[2, 3, 5, 7], 1], // NCHW over channels
        [[7], 0],
        [[4, 1], 1], // a single element per row: softmax 1, logSoftmax 0
        [[1, 6], 0],
      ];
      for (const [i, [shape, axis]] of cases.entries()) {
        await checkOp({
          inputs: [{ shape, range: [-3, 3] }],
          fn: (x) => f(x, axis),
          ref: (x) => R.softmax(x, axis, log),
          seed: i,
          gradOpts: { maxProbes: 12 },
        });
      }
    });

    it('the default axis is the last', async () => {
      const x = R.ND.from(f32(new w.Generator(1).uniform(12, -2, 2)), [3, 4]);
      expectClose((await run1((t) => f(t), x)).data, R.softmax(x, 1, log).data);
    });

    it('is stable for large inputs (values near +-1000 give no NaN or inf)', async () => {
      const g = new w.Generator(2);
      for (const center of [1000, -1000, 80, 3e4]) {
        const x = R.ND.from(f32(Array.from(g.uniform(30, -5, 5), (v) => center + v)), [5, 6]);
        for (const axis of [0, 1]) {
          const got = await run1((t) => f(t, axis), x);
          expect(got.data.every(Number.isFinite), `finite at ${center}`).toBe(true);
          expectClose(got.data, R.softmax(x, axis, log).data, 1e-5, 1e-4, `${name} at ${center}, axis ${axis}`);
        }
      }
    });

    it('gradient for large inputs matches the reference', async () => {
      const g = new w.Generator(3);
      const host = R.ND.from(f32(Array.from(g.uniform(12, 995, 1005))), [3, 4]);
      const gyHost = R.ND.from(f32(g.uniform(12, -1, 1)), [3, 4]);
      const x = w.fromArray(host.data, [3, 4], { requiresGrad: true });
      const gy = w.fromArray(gyHost.data, [3, 4]);
      const y = f(x, 1);
      const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
      // softmax: p (gy - sum(gy p)); logSoftmax: gy - p sum(gy)
      const p = R.softmax(host, 1);
      const want = log
        ? R.map2(gyHost, R.map2(p, R.sum(gyHost, 1, true), (a, b) => a * b), (a, b) => a - b)
        : R.map2(p, R.map2(gyHost, R.sum(R.map2(gyHost, p, (a, b) => a * b), 1, true), (a, b) => a - b), (a, b) => a * b);
      expectClose(await gx!.data(), want.data, 1e-5, 1e-4, `${name} gradient at 1000`);
      [x, gy, y, gx!].forEach((t) => t.dispose());
    });

    it('-inf entries get probability 0; an all -inf row and a NaN row give NaN (as PyTorch), others are unaffected', async () => {
      const x = R.ND.from([0, -Infinity, 1, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, NaN, 3, 4, -Infinity, 5, 6, 7], [4, 4]);
      const got = await run1((t) => f(t, 1), x);
      const want = R.softmax(x, 1, log); // float64: exp(-inf - m) = 0; the -inf row and the NaN row are NaN
      expectClose(got.data, want.data, 1e-6, 1e-5, name);
      expect(Number.isNaN(want.data[4]!) && Number.isNaN(want.data[8]!)).toBe(true);
    });
  });

  it('more than 65535 workgroups of rows (a 2-D dispatch grid) are all computed', async () => {
    const n = (1 << 22) + 5; // one invocation per row: 65537 workgroups of 64
    const x = w.zeros([n, 2]);
    const y = w.logSoftmax(x, 1);
    const got = await y.data();
    const want = Math.fround(-Math.log(2));
    let bad = -1;
    for (let i = 0; i < 2 * n && bad < 0; i++) if (Math.abs(got[i]! - want) > 1e-6) bad = i;
    expect(bad, `first wrong output (got ${got[bad]})`).toBe(-1);
    [x, y].forEach((t) => t.dispose());
  });

  describe('logsumexp', () => {
    it('over one, several (non-contiguous) and all axes, keepdim both ways (forward and gradient)', async () => {
      const g = new w.Generator(9);
      const shape = randomShape(g, 3).map((d) => d + 1);
      const axesList: Axes[] = [0, 1, 2, -1, [0, 2], [1, 2], [0, 1], [2, 0], undefined];
      for (const [i, axes] of axesList.entries()) {
        for (const keepdim of [false, true]) {
          await checkOp({
            inputs: [{ shape, range: [-3, 3] }],
            fn: (x) => w.logsumexp(x, axes, keepdim),
            ref: (x) => R.logsumexp(x, axes, keepdim),
            grad: keepdim === (i % 2 === 0),
            seed: i,
            gradOpts: { maxProbes: 12 },
          });
        }
      }
      await checkOp({
        inputs: [{ shape: [2, 3, 4, 5], range: [-3, 3] }],
        fn: (x) => w.logsumexp(x, [0, 2, 3]),
        ref: (x) => R.logsumexp(x, [0, 2, 3]),
        gradOpts: { maxProbes: 12 },
      });
    });

    it('is stable for large inputs and long rows', async () => {
      const g = new w.Generator(5);
      for (const center of [1000, -1000, 1e4]) {
        const x = R.ND.from(f32(Array.from(g.uniform(60, -5, 5), (v) => center + v)), [3, 4, 5]);
        for (const axes of [1, [0, 2], undefined] as Axes[]) {
          const got = await run1((t) => w.logsumexp(t, axes), x);
          expect(got.data.every(Number.isFinite)).toBe(true);
          expectClose(got.data, R.logsumexp(x, axes).data, 1e-5, 1e-6, `logsumexp at ${center} over ${JSON.stringify(axes)}`);
        }
      }
      const long = R.ND.from(f32(g.uniform(20000, -4, 4)), [2, 10000]);
      expectClose((await run1((t) => w.logsumexp(t, 1), long)).data, R.logsumexp(long, 1).data, 1e-5, 1e-5, 'long rows');
    });

    it('gradient for large inputs is softmax of the input', async () => {
      const g = new w.Generator(6);
      const host = R.ND.from(f32(g.uniform(24, 995, 1005)), [2, 3, 4]);
      const x = w.fromArray(host.data, host.shape, { requiresGrad: true });
      const y = w.logsumexp(x, [0, 2]);
      const gyHost = R.ND.from(f32(g.uniform(3, -1, 1)), [1, 3, 1]);
      const gy = w.fromArray(gyHost.data, [3]);
      const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
      const p = R.map2(host, R.logsumexp(host, [0, 2], true), (v, l) => Math.exp(v - l));
      expectClose(await gx!.data(), R.map2(p, gyHost, (a, b) => a * b).data, 1e-6, 1e-4);
      [x, y, gy, gx!].forEach((t) => t.dispose());
    });

    it('is -inf for all -inf rows and empty reductions, +inf with a +inf element, NaN with a NaN (as PyTorch)', async () => {
      const x = R.ND.from([-Infinity, -Infinity, -Infinity, 1, Infinity, 2, 0, NaN, 1, 1000, -Infinity, 1000], [4, 3]);
      const got = await run1((t) => w.logsumexp(t, 1), x);
      expectClose(got.data, R.logsumexp(x, 1).data, 1e-6, 1e-6);
      expectClose(got.data.slice(0, 3), [-Infinity, Infinity, NaN]);
      const empty = w.zeros([3, 0]);
      const e = w.logsumexp(empty, 1);
      expect([...e.shape]).toEqual([3]);
      expectClose(await e.data(), [-Infinity, -Infinity, -Infinity]);
      [empty, e].forEach((t) => t.dispose());
    });
  });

  describe('bad input', () => {
    const OPS: [string, (x: w.Tensor, axis: number) => w.Tensor][] = [
      ['softmax', (x, a) => w.softmax(x, a)],
      ['logSoftmax', (x, a) => w.logSoftmax(x, a)],
      ['logsumexp', (x, a) => w.logsumexp(x, [0, a])],
    ];

    it('an out-of-range axis gives AxisError naming the op', () => {
      const x = w.zeros([2, 3, 4]);
      for (const [name, f] of OPS) {
        for (const axis of [3, -4]) {
          expect(() => f(x, axis)).toThrow(w.AxisError);
          expect(() => f(x, axis)).toThrow(new RegExp(`^${name}: axis ${axis} is out of range for a tensor of rank 3 \\(shape \\[2,3,4\\]\\)`));
        }
      }
      x.dispose();
    });

    it('an i32 tensor gives DTypeError and a disposed tensor DisposedError, leaking nothing', () => {
      const i = w.fromArray(new Int32Array(24), [2, 3, 4]);
      const gone = w.zeros([2, 3, 4]);
      gone.dispose();
      const before = w.runtime().memory().live;
      for (const [name, f] of OPS) {
        expect(() => f(i, 1)).toThrow(w.DTypeError);
        expect(() => f(i, 1)).toThrow(new RegExp(`^${name}: .*i32`));
        expect(() => f(gone, 1)).toThrow(w.DisposedError);
        expect(() => f(gone, 1)).toThrow(new RegExp(`^${name}: tensor of shape \\[2,3,4\\] was already disposed`));
      }
      expect(() => w.logsumexp(gone, [0, 2])).toThrow(w.DisposedError);
      expect(w.runtime().memory().live).toBe(before);
      i.dispose();
    });
  });
});
