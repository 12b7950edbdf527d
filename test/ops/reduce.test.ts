/**
 * Reductions (sum, mean, max, min, variance, argmax, argmin) over every kind of axis set, against
 * float64 references, with gradients; the chunked two-pass path for long reductions; NaN and ties.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';
import { gridValues, randomShape } from './random-shapes.js';

type Axes = number | number[] | undefined;

interface ReduceCase {
  name: string;
  fn: (x: w.Tensor, axes: Axes, keepdim: boolean) => w.Tensor;
  ref: (x: R.ND, axes: Axes, keepdim: boolean) => R.ND;
  /** Distinct, well-separated inputs (max/min: no ties for finite differences to trip on). */
  distinct?: boolean;
}

const CASES: ReduceCase[] = [
  { name: 'sum', fn: (x, a, k) => w.sum(x, a, k), ref: (x, a, k) => R.sum(x, a, k) },
  { name: 'mean', fn: (x, a, k) => w.mean(x, a, k), ref: (x, a, k) => R.mean(x, a, k) },
  { name: 'max', fn: (x, a, k) => w.max(x, a, k), ref: (x, a, k) => R.amax(x, a, k), distinct: true },
  { name: 'min', fn: (x, a, k) => w.min(x, a, k), ref: (x, a, k) => R.amin(x, a, k), distinct: true },
  { name: 'variance', fn: (x, a, k) => w.variance(x, a, { keepdim: k }), ref: (x, a, k) => R.variance(x, a, 1, k) },
  {
    name: 'variance(correction 0)',
    fn: (x, a, k) => w.variance(x, a, { correction: 0, keepdim: k }),
    ref: (x, a, k) => R.variance(x, a, 0, k),
  },
];

/** Axis sets for a rank-3 tensor: all, single, negative, non-contiguous, several. */
const AXES3: Axes[] = [undefined, 0, 1, 2, -1, -3, [0, 2], [1, 2], [0, 1], [-1, 0], [0, 1, 2]];
/** Axis sets for NCHW. */
const AXES4: Axes[] = [[0, 2, 3], 1, [0, 2], [1, 3], -2, undefined];

function valuesFor(c: ReduceCase, g: w.Generator, n: number): number[] {
  return c.distinct ? gridValues(g, n, { distinct: true, step: 0.05 }) : Array.from(g.uniform(n, -2, 2));
}

/** Number of elements each output of a reduction over `axes` combines. */
function reducedCount(shape: number[], axes: Axes): number {
  const x = R.ND.fill(shape, 0);
  return R.size(R.axesOf(x, axes).map((a) => shape[a]!));
}

/** f(x) for host values, read back and freed. */
async function run1(f: (x: w.Tensor) => w.Tensor, x: R.ND): Promise<{ shape: number[]; data: Float32Array | Int32Array; dtype: string }> {
  const t = w.fromArray(x.data, x.shape);
  const y = f(t);
  const out = { shape: [...y.shape], data: await y.data(), dtype: y.dtype };
  t.dispose();
  y.dispose();
  return out;
}

describe.each(devices())('reductions on %s', () => {
  describe.each(CASES)('$name', (c) => {
    it('rank 3 over all, single, negative and non-contiguous axes, keepdim both ways (forward and gradient)', async () => {
      const g = new w.Generator(c.name.length * 101);
      const shape = randomShape(g, 3).map((d) => Math.max(d, 2)); // every axis has something to reduce
      for (const [i, axes] of AXES3.entries()) {
        for (const keepdim of [false, true]) {
          await checkOp({
            inputs: [{ shape, values: valuesFor(c, g, R.size(shape)) }],
            fn: (x) => c.fn(x, axes, keepdim),
            ref: (x) => c.ref(x, axes, keepdim),
            grad: keepdim === (i % 2 === 0), // gradients for half the configurations keep the file fast
            seed: i,
          });
        }
      }
    });

    it('NCHW over [0,2,3] and friends (forward and gradient)', async () => {
      const g = new w.Generator(c.name.length * 7 + 1);
      const shape = [2, 3, 5, 7];
      for (const [i, axes] of AXES4.entries()) {
        await checkOp({
          inputs: [{ shape, values: valuesFor(c, g, R.size(shape)) }],
          fn: (x) => c.fn(x, axes, i % 2 === 1),
          ref: (x) => c.ref(x, axes, i % 2 === 1),
          grad: i < 3,
          gradOpts: { maxProbes: 16 },
        });
      }
    });

    it('size-1 dims, rank 0 and rank 1', async () => {
      const g = new w.Generator(5);
      const cases: [number[], Axes][] = [
        [[1, 3, 1], 0],
        [[1, 3, 1], 2],
        [[1, 3, 1], [0, 2]],
        [[1, 3, 1], undefined],
        [[4, 1], 1],
        [[1], undefined],
        [[6], 0],
        [[], undefined],
      ];
      for (const [shape, axes] of cases) {
        for (const keepdim of [false, true]) {
          await checkOp({
            inputs: [{ shape, values: valuesFor(c, g, R.size(shape)) }],
            fn: (x) => c.fn(x, axes, keepdim),
            ref: (x) => c.ref(x, axes, keepdim),
            // Variance over one element is NaN (n - 1 = 0): forward only there.
            grad: keepdim && !(c.name === 'variance' && reducedCount(shape, axes) === 1),
          });
        }
      }
    });

    it('long reductions take the chunked two-pass path and stay accurate', async () => {
      const g = new w.Generator(77);
      const cases: [number[], Axes][] = [
        [[100000], undefined], // one output: several chunked passes
        [[3, 5000], 1], // few outputs, long rows
        [[2, 3000, 3], 1], // chunked with inner > 1
        [[70, 2], 0], // just past the chunking threshold
        [[257, 3], [0, 1]],
        [[5000, 3], 1], // many outputs: single pass
      ];
      for (const [shape, axes] of cases) {
        const x = R.ND.from(valuesFor(c, g, R.size(shape)), shape);
        const got = await run1((t) => c.fn(t, axes, false), x);
        const want = c.ref(x, axes, false);
        expect(got.shape).toEqual(want.shape);
        // f32 sums of many terms of size ~1: allow 1e-6 per term (dropping one term would fail).
        const scale = c.name === 'sum' ? R.size(shape) / Math.max(1, R.size(want.shape)) : 1;
        expectClose(got.data, want.data, 1e-6 * scale, 1e-4, `${c.name} over [${shape}]`);
      }
    });
  });

  it('gradients of long reductions match the reference', async () => {
    const g = new w.Generator(3);
    const shape = [3, 5000];
    const host = R.ND.from(gridValues(g, R.size(shape), { distinct: true, step: 1e-3 }), shape);
    const gyHost = R.ND.from(g.uniform(3, -1, 1), [3, 1]);
    const x = w.fromArray(host.data, shape, { requiresGrad: true });
    const gy = w.fromArray(gyHost.data, [3]);
    const n = shape[1]!;
    const cases: [string, w.Tensor, R.ND][] = [
      ['sum', w.sum(x, 1), R.broadcastTo(gyHost, shape)],
      ['mean', w.mean(x, 1), R.map(R.broadcastTo(gyHost, shape), (v) => v / n)],
      ['max', w.max(x, 1), R.extremeGrad(host, 'max', [1], gyHost)],
      ['min', w.min(x, 1), R.extremeGrad(host, 'min', [1], gyHost)],
    ];
    for (const [name, y, want] of cases) {
      const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
      expectClose(await gx!.data(), want.data, 1e-7, 1e-5, `${name} gradient`);
      gx!.dispose();
      y.dispose();
    }
    x.dispose();
    gy.dispose();
  });

  it('outputs beyond 65535 workgroups (a 2-D dispatch grid) are computed everywhere', async () => {
    const n = (1 << 22) + 5; // 65537 workgroups of 64 outputs
    const x = w.arange(0, 2 * n, 1, { dtype: 'f32' });
    const pairs = x.view([n, 2]);
    for (const [name, y, want] of [
      ['max', w.max(pairs, 1), (i: number) => Math.fround(2 * i + 1)],
      ['argmin', w.argmin(pairs, 1), () => 0],
    ] as const) {
      const got = await y.data();
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (got[i] !== want(i)) bad = i;
      expect(bad, `${name}: first wrong output (got ${got[bad]})`).toBe(-1);
      y.dispose();
    }
    [x, pairs].forEach((t) => t.dispose());
  });

  describe('max and min with NaN and ties', () => {
    it('NaN propagates (first, middle, last position; short and chunked reductions)', async () => {
      const shape = [4, 5];
      const v = Array.from({ length: 20 }, (_, i) => (i * 7) % 11);
      for (const at of [0, 7, 14, 19]) v[at] = NaN; // row 0 first, row 1 middle, row 2 last (14), row 3 last (19)
      const x = R.ND.from(v, shape);
      for (const [name, f, ref] of [
        ['max', w.max, R.amax],
        ['min', w.min, R.amin],
      ] as const) {
        for (const axes of [undefined, 0, 1, [0, 1]] as Axes[]) {
          const got = await run1((t) => f(t, axes), x);
          expectClose(got.data, ref(x, axes).data, 0, 0, `${name} over ${JSON.stringify(axes)}`);
        }
        // Long rows: NaN deep inside one row of the chunked path, and in the middle of 1e5 values.
        const long = R.ND.from(Array.from({ length: 15000 }, (_, i) => Math.fround(Math.sin(i))), [3, 5000]);
        long.data[1 * 5000 + 4321] = NaN;
        expectClose((await run1((t) => f(t, 1), long)).data, ref(long, 1).data, 0, 0, `${name} chunked`);
        const flat = R.ND.from(Array.from({ length: 100000 }, (_, i) => Math.fround(Math.cos(i))), [100000]);
        flat.data[54321] = NaN;
        expectClose((await run1((t) => f(t), flat)).data, [NaN], 0, 0, `${name} of 1e5 values`);
      }
    });

    it('ties share the gradient evenly (like torch.amax / amin)', async () => {
      const g = new w.Generator(11);
      const shape = [3, 4, 5];
      // Small integers: many ties per reduced group.
      const host = R.ND.from(Array.from({ length: 60 }, () => Math.floor(g.next() * 3)), shape);
      for (const which of ['max', 'min'] as const) {
        for (const [axes, keepdim] of [
          [undefined, false],
          [1, false],
          [[0, 2], true],
          [-1, true],
        ] as [Axes, boolean][]) {
          const x = w.fromArray(host.data, shape, { requiresGrad: true });
          const y = which === 'max' ? w.max(x, axes, keepdim) : w.min(x, axes, keepdim);
          const gyHost = R.ND.from(g.uniform(y.size, -1, 1), [...y.shape]);
          const gy = w.fromArray(gyHost.data, y.shape);
          const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
          const keptShape = R.sum(host, R.axesOf(host, axes), true).shape;
          const want = R.extremeGrad(host, which, R.axesOf(host, axes), R.ND.from(gyHost.data, keptShape));
          expectClose(await gx!.data(), want.data, 1e-6, 1e-5, `${which} ${JSON.stringify(axes)} gradient`);
          [x, y, gy, gx!].forEach((t) => t.dispose());
        }
      }
    });
  });

  describe('argmax and argmin', () => {
    const OPS = [
      ['argmax', w.argmax, 'max'],
      ['argmin', w.argmin, 'min'],
    ] as const;

    it.each(OPS)('%s over every axis, keepdim both ways, and flattened (i32)', async (_name, f, which) => {
      const g = new w.Generator(which.length);
      const shape = randomShape(g, 3).map((d) => d + 1);
      // Values from a small set: ties everywhere, and the first index must win.
      const x = R.ND.from(Array.from({ length: R.size(shape) }, () => Math.floor(g.next() * 4)), shape);
      for (const axis of [0, 1, 2, -1, -3, undefined]) {
        for (const keepdim of [false, true]) {
          const got = await run1((t) => f(t, axis, keepdim), x);
          const want = R.argExtreme(x, which, axis, keepdim);
          expect(got.dtype).toBe('i32');
          expect(got.data).toBeInstanceOf(Int32Array);
          // With no axis, keepdim gives all dims size 1 (as PyTorch).
          expect(got.shape).toEqual(axis === undefined && keepdim ? shape.map(() => 1) : want.shape);
          expect(Array.from(got.data)).toEqual(Array.from(want.data));
        }
      }
    });

    it.each(OPS)('%s returns the first index of the extreme, NaN counting as extreme, on long rows too', async (_name, f, which) => {
      const ties = R.ND.from([1, 3, 3, 2, 3, -1, -1, 0], [8]);
      expect(Array.from((await run1((t) => f(t), ties)).data)).toEqual([which === 'max' ? 1 : 5]);
      const withNan = R.ND.from([1, 5, NaN, 7, NaN, -3], [2, 3]);
      expect(Array.from((await run1((t) => f(t, 1), withNan)).data)).toEqual(Array.from(R.argExtreme(withNan, which, 1).data));
      expect(Array.from((await run1((t) => f(t), withNan)).data)).toEqual([2]);
      const long = R.ND.from(Array.from({ length: 15000 }, (_, i) => Math.sin(i * 0.37)), [3, 5000]);
      expect(Array.from((await run1((t) => f(t, 1), long)).data)).toEqual(Array.from(R.argExtreme(long, which, 1).data));
      expect(Array.from((await run1((t) => f(t, 0), long)).data)).toEqual(Array.from(R.argExtreme(long, which, 0).data));
    });

    it('has no gradient', () => {
      const x = w.fromArray([1, 2, 3], [3], { requiresGrad: true });
      const i = w.argmax(x);
      expect(i.requiresGrad).toBe(false);
      [x, i].forEach((t) => t.dispose());
    });
  });

  describe('variance', () => {
    it('with corrections 0, 1, 2 over several axis sets', async () => {
      const g = new w.Generator(21);
      for (const correction of [0, 1, 2]) {
        for (const axes of [undefined, 1, [0, 2], -1] as Axes[]) {
          await checkOp({
            inputs: [{ shape: [3, 4, 5], values: Array.from(g.uniform(60, -2, 2)) }],
            fn: (x) => w.variance(x, axes, { correction, keepdim: correction === 1 }),
            ref: (x) => R.variance(x, axes, correction, correction === 1),
            grad: correction !== 1,
          });
        }
      }
    });

    it('is NaN when there are no more elements than the correction (as torch.var)', async () => {
      const got = await run1((t) => w.variance(t, 1), R.ND.from([1, 2, 3], [3, 1]));
      expectClose(got.data, [NaN, NaN, NaN]);
    });

    it('is accurate for data with a large mean (two-pass, not E[x^2] - E[x]^2)', async () => {
      const g = new w.Generator(4);
      const x = R.ND.from(Array.from(g.uniform(1000, 1000, 1001)), [1000]);
      const got = await run1((t) => w.variance(t), x);
      expectClose(got.data, R.variance(x).data, 1e-5, 1e-3);
    });
  });

  it('empty reductions: sum is 0, mean is NaN, max is a ShapeError', async () => {
    const x = w.zeros([2, 0, 3]);
    const s = w.sum(x, 1);
    expect([...s.shape]).toEqual([2, 3]);
    expectClose(await s.data(), new Array(6).fill(0));
    const m = w.mean(x, [1, 2]);
    expectClose(await m.data(), [NaN, NaN]);
    expect(() => w.max(x, 1)).toThrow(w.ShapeError);
    expect(() => w.argmax(x, 1)).toThrow(w.ShapeError);
    [x, s, m].forEach((t) => t.dispose());
  });

  describe('bad input', () => {
    const shape = [2, 3, 4];
    const REDUCERS: [string, (x: w.Tensor, axis: number) => w.Tensor][] = [
      ['sum', (x, a) => w.sum(x, a)],
      ['mean', (x, a) => w.mean(x, [0, a])],
      ['max', (x, a) => w.max(x, a)],
      ['min', (x, a) => w.min(x, a, true)],
      ['variance', (x, a) => w.variance(x, a)],
      ['argmax', (x, a) => w.argmax(x, a)],
      ['argmin', (x, a) => w.argmin(x, a)],
    ];

    it('an out-of-range axis gives AxisError naming the op, axis and shape', () => {
      const x = w.zeros(shape);
      for (const [name, f] of REDUCERS) {
        for (const axis of [3, -4, 100]) {
          expect(() => f(x, axis)).toThrow(w.AxisError);
          expect(() => f(x, axis)).toThrow(new RegExp(`^${name}: axis ${axis} is out of range for a tensor of rank 3 \\(shape \\[2,3,4\\]\\)`));
        }
        expect(() => f(x, 1.5)).toThrow(w.AxisError);
      }
      expect(() => w.sum(x, [0, -3])).toThrow(w.ArgumentError); // the same axis twice
      x.dispose();
    });

    it('an i32 tensor gives DTypeError naming the op', () => {
      const x = w.fromArray(new Int32Array(24), shape);
      for (const [name, f] of REDUCERS) {
        expect(() => f(x, 1)).toThrow(w.DTypeError);
        expect(() => f(x, 1)).toThrow(new RegExp(`^${name}: .*i32`));
      }
      x.dispose();
    });

    it('a disposed tensor gives DisposedError naming the op, and leaks nothing', () => {
      const x = w.zeros(shape);
      x.dispose();
      const before = w.runtime().memory().live;
      for (const [name, f] of REDUCERS) {
        expect(() => f(x, 1)).toThrow(w.DisposedError);
        expect(() => f(x, 1)).toThrow(new RegExp(`^${name}: tensor of shape \\[2,3,4\\] was already disposed`));
      }
      expect(() => w.sum(x)).toThrow(w.DisposedError);
      expect(() => w.sum(x, [])).toThrow(w.DisposedError);
      expect(w.runtime().memory().live).toBe(before);
    });
  });
});
