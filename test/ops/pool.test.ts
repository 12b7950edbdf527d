import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr, type FixtureCase, type FixtureParam } from '../helpers/fixtures.js';
import { ND } from '../reference/ndarray.js';
import * as RP from '../reference/pool.js';
import { gridValues } from './random-shapes.js';

type P2 = [number, number];

interface MaxCase {
  x: [number, number, number, number];
  kernel: P2;
  stride?: P2;
  padding?: P2;
  dilation?: P2;
  ceil?: boolean;
}

interface AvgCase {
  x: [number, number, number, number];
  kernel: P2;
  stride?: P2;
  padding?: P2;
  ceil?: boolean;
  countIncludePad?: boolean;
  divisor?: number;
}

const maxCases: MaxCase[] = [
  { x: [1, 1, 5, 5], kernel: [2, 2] },
  { x: [2, 3, 7, 6], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { x: [1, 2, 9, 8], kernel: [3, 3], stride: [2, 2], ceil: true },
  { x: [2, 2, 7, 7], kernel: [2, 2], stride: [2, 2], ceil: true },
  { x: [1, 3, 11, 10], kernel: [3, 2], stride: [2, 3], padding: [1, 1], dilation: [2, 1] },
  { x: [1, 2, 8, 9], kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [2, 2], ceil: true },
  { x: [2, 1, 5, 6], kernel: [3, 3], stride: [3, 3], padding: [1, 1], ceil: true },
  { x: [3, 2, 6, 5], kernel: [6, 5], stride: [6, 5] },
  { x: [1, 1, 1, 1], kernel: [1, 1] },
  { x: [1, 2, 4, 13], kernel: [1, 3], stride: [1, 2], padding: [0, 1] },
];

const avgCases: AvgCase[] = [
  { x: [1, 1, 5, 5], kernel: [2, 2] },
  { x: [2, 3, 7, 6], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { x: [2, 3, 7, 6], kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false },
  { x: [1, 2, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceil: true },
  { x: [1, 2, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceil: true, countIncludePad: false },
  { x: [2, 2, 7, 5], kernel: [3, 2], stride: [2, 1], padding: [1, 0], divisor: 5 },
  { x: [1, 3, 6, 6], kernel: [6, 6] },
  { x: [1, 1, 5, 6], kernel: [3, 3], stride: [3, 3], padding: [1, 1], ceil: true },
  { x: [1, 2, 3, 11], kernel: [1, 4], stride: [1, 3], padding: [0, 2], ceil: true, countIncludePad: false },
];

const adaptiveCases: { x: [number, number, number, number]; size: w.AdaptiveSize; want: P2 }[] = [
  { x: [2, 3, 7, 5], size: 1, want: [1, 1] },
  { x: [1, 2, 8, 8], size: [2, 2], want: [2, 2] },
  { x: [1, 2, 7, 7], size: 3, want: [3, 3] },
  { x: [2, 2, 5, 7], size: [2, 3], want: [2, 3] },
  { x: [1, 2, 3, 3], size: 5, want: [5, 5] },
  { x: [1, 2, 6, 5], size: [4, 1], want: [4, 1] },
  { x: [1, 1, 9, 11], size: [4, null], want: [4, 11] },
  { x: [1, 1, 13, 1], size: [5, 1], want: [5, 1] },
];

/** Seeded random max-pool geometries (odd sizes, every option), kept only when PyTorch accepts them. */
function randomMaxCases(count: number, seed: number): MaxCase[] {
  const g = new w.Generator(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(g.next() * (hi - lo + 1));
  const out: MaxCase[] = [];
  while (out.length < count) {
    const kernel: P2 = [int(1, 4), int(1, 4)];
    const c: MaxCase = {
      x: [int(1, 2), int(1, 3), int(1, 12), int(1, 12)],
      kernel,
      stride: [int(1, 3), int(1, 3)],
      padding: [int(0, Math.floor(kernel[0] / 2)), int(0, Math.floor(kernel[1] / 2))],
      dilation: [int(1, 2), int(1, 2)],
      ceil: g.next() < 0.5,
    };
    const ext = (a: number) => c.dilation![a]! * (kernel[a]! - 1) + 1;
    if (ext(0) <= c.x[2] + 2 * c.padding![0] && ext(1) <= c.x[3] + 2 * c.padding![1]) out.push(c);
  }
  return out;
}

function randomAvgCases(count: number, seed: number): AvgCase[] {
  return randomMaxCases(count, seed).map((c, i) => ({ ...c, dilation: undefined, countIncludePad: i % 2 === 0 }));
}

const maxOpts = (c: MaxCase): w.MaxPool2dOptions => ({ kernelSize: c.kernel, stride: c.stride, padding: c.padding, dilation: c.dilation, ceilMode: c.ceil });
const avgOpts = (c: AvgCase): w.AvgPool2dOptions => ({
  kernelSize: c.kernel,
  stride: c.stride,
  padding: c.padding,
  ceilMode: c.ceil,
  countIncludePad: c.countIncludePad,
  divisorOverride: c.divisor,
});
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Distinct values 0.1 apart (shuffled): no ties, so max pooling is differentiable at them. */
const distinct = (shape: readonly number[], seed: number) =>
  ND.from(gridValues(new w.Generator(seed), size(shape), { distinct: true }).map(Math.fround), shape);

/** Forward output, and the input gradient for a random output gradient (returned too). */
async function vjp(fn: (x: w.Tensor) => w.Tensor, x: ND, seed = 3): Promise<{ y: Float32Array; gx: Float32Array; gy: ND }> {
  const [y, gx, gyT] = w.tidy(() => {
    const xt = w.fromArray(x.data, x.shape, { requiresGrad: true });
    const out = fn(xt);
    const gyT = w.fromArray(new w.Generator(seed).uniform(out.size, -1, 1), out.shape);
    return [out, w.grad(out, [xt], { gradOutputs: [gyT] })[0]!, gyT];
  });
  const res = { y: (await y.data()) as Float32Array, gx: (await gx.data()) as Float32Array, gy: ND.from(await gyT.data(), [...gyT.shape]) };
  [y, gx, gyT].forEach((t) => t.dispose());
  return res;
}

const live = () => w.runtime().memory().live;

describe.each(devices())('maxPool2d on %s', () => {
  it.each([...maxCases, ...randomMaxCases(10, 11)])('values, indices and gradient match the reference: %j', async (c) => {
    const x = distinct(c.x, 5);
    const want = RP.maxPool2d(x, c);
    const { output, indices } = w.maxPool2dWithIndices(w.fromArray(x.data, c.x), maxOpts(c));
    expect([...output.shape]).toEqual(want.y.shape);
    expect(indices.dtype).toBe('i32');
    expect(await indices.toArray()).toEqual(want.indices);
    expectClose(await output.data(), want.y.data, 0, 0, 'max');
    output.dispose();
    indices.dispose();
    const r = await vjp((t) => w.maxPool2d(t, maxOpts(c)), x);
    expectClose(r.gx, RP.maxPool2dGrad(c.x, want.indices, r.gy).data, 1e-6, 1e-6, 'grad');
  });

  it.each(maxCases.slice(0, 7))('gradient matches finite differences: %j', async (c) => {
    await checkOp({
      inputs: [{ shape: c.x, values: distinct(c.x, 9).data }],
      fn: (x) => w.maxPool2d(x!, maxOpts(c)),
      ref: (x) => RP.maxPool2d(x!, c).y,
      gradOpts: { maxProbes: 12 },
    });
  });

  it('takes the first maximum of tied windows and sums gradients of shared picks', async () => {
    const c: MaxCase = { x: [2, 2, 7, 8], kernel: [3, 3], stride: [1, 2], padding: [1, 1] };
    const g = new w.Generator(4);
    const x = ND.from(Array.from({ length: size(c.x) }, () => Math.floor(g.next() * 3)), c.x);
    const want = RP.maxPool2d(x, c);
    const { output, indices } = w.maxPool2dWithIndices(w.fromArray(x.data, c.x), maxOpts(c));
    expect(await indices.toArray()).toEqual(want.indices);
    output.dispose();
    indices.dispose();
    const r = await vjp((t) => w.maxPool2d(t, maxOpts(c)), x);
    expectClose(r.gx, RP.maxPool2dGrad(c.x, want.indices, r.gy).data, 1e-6, 1e-6, 'grad');
  });

  it('propagates NaN and handles windows of -inf', async () => {
    const x = w.fromArray([1, NaN, 3, 4, -Infinity, -Infinity, -Infinity, -Infinity, 5, NaN, 2, NaN], [1, 1, 3, 4]);
    const { output, indices } = w.maxPool2dWithIndices(x, { kernelSize: [1, 2] });
    const v = await output.toArray();
    expect(v[0]).toBeNaN();
    expect(v.slice(1, 4)).toEqual([4, -Infinity, -Infinity]);
    expect(v[4]).toBeNaN();
    expect(v[5]).toBeNaN();
    // PyTorch's rule: a NaN replaces the running maximum, so the last NaN of a window is named.
    expect(await indices.toArray()).toEqual([1, 3, 4, 6, 9, 11]);
    [x, output, indices].forEach((t) => t.dispose());
  });

  it('keeps its indices for backward when the caller disposes theirs, and leaks nothing', async () => {
    const xv = distinct([1, 2, 6, 6], 2);
    const run = () => {
      const x = w.fromArray(xv.data, xv.shape, { requiresGrad: true });
      const { output, indices } = w.maxPool2dWithIndices(x, { kernelSize: 2 });
      indices.dispose();
      w.backward(w.sum(output));
      const g = x.grad!;
      x.grad = null;
      [x, output].forEach((t) => t.dispose());
      return g;
    };
    w.tidy(run).dispose(); // warm caches
    const before = live();
    const g = w.tidy(run);
    expect((await g.toArray()).reduce((a, b) => a + b, 0)).toBe(18);
    g.dispose();
    // Without gradients the internal indices are freed at once.
    const x = w.fromArray(xv.data, xv.shape);
    w.maxPool2d(x, { kernelSize: 3, stride: 2 }).dispose();
    x.dispose();
    expect(live()).toBe(before);
  });
});

describe.each(devices())('max pooling spans and tiles on %s', () => {
  /** Seeded geometries over planes up to 37 x 29, so that spans of 16 cross rows and planes. */
  const wide = randomMaxCases(12, 29).map((c, i) => ({ ...c, x: [c.x[0], c.x[1] + (i % 3), c.x[2] * (1 + (i % 4)), c.x[3] + 2 * i] as MaxCase['x'] }));

  // Windows that tile the plane exactly take max_fwd_tile and max_bwd_tile.
  const tiling: MaxCase[] = [
    { x: [2, 3, 8, 6], kernel: [2, 2] },
    { x: [1, 2, 9, 12], kernel: [3, 4] },
    { x: [3, 5, 14, 14], kernel: [2, 2] },
    { x: [1, 3, 6, 10], kernel: [3, 5] },
    { x: [2, 1, 7, 3], kernel: [7, 1] },
  ];

  it.each([...wide, ...tiling])('values, indices and gradients match the reference: %j', async (c) => {
    const x = distinct(c.x, 21);
    const want = RP.maxPool2d(x, c);
    const { output, indices } = w.maxPool2dWithIndices(w.fromArray(x.data, c.x), maxOpts(c));
    expect(await indices.toArray()).toEqual(want.indices);
    expectClose(await output.data(), want.y.data, 0, 0, 'max');
    output.dispose();
    indices.dispose();
    const r = await vjp((t) => w.maxPool2d(t, maxOpts(c)), x, 17);
    expectClose(r.gx, RP.maxPool2dGrad(c.x, want.indices, r.gy).data, 1e-6, 1e-6, 'grad');
  });

  it.each(tiling)('pick the first of tied maxima and a NaN as the reference does: %j', async (c) => {
    const g = new w.Generator(8);
    const vals = Array.from({ length: size(c.x) }, () => (g.next() < 0.05 ? NaN : Math.floor(g.next() * 3)));
    const want = RP.maxPool2d(ND.from(vals, c.x), c);
    const { output, indices } = w.maxPool2dWithIndices(w.fromArray(vals, c.x), maxOpts(c));
    expect(await indices.toArray()).toEqual(want.indices);
    expect([...(await output.data())]).toEqual([...want.y.data]);
    output.dispose();
    indices.dispose();
  });

  // (small planes: finite differences of a float32 loss over thousands of elements are too coarse)
  it.each(tiling.filter((c) => size(c.x) <= 300))('gradient matches finite differences: %j', async (c) => {
    await checkOp({
      inputs: [{ shape: c.x, values: distinct(c.x, 9).data }],
      fn: (x) => w.maxPool2d(x!, maxOpts(c)),
      ref: (x) => RP.maxPool2d(x!, c).y,
      gradOpts: { maxProbes: 12 },
    });
  });
});

describe.each(devices())('avgPool2d on %s', () => {
  it.each([...avgCases, ...randomAvgCases(8, 21)])('matches the reference and its gradient: %j', async (c) => {
    const x = ND.from(new w.Generator(6).uniform(size(c.x), -2, 2), c.x);
    const r = await vjp((t) => w.avgPool2d(t, avgOpts(c)), x);
    const o = { ...c, divisor: c.divisor };
    const want = RP.avgPool2d(x, o);
    expectClose(r.y, want.data, 1e-6, 1e-5, 'forward');
    expectClose(r.gx, RP.avgPool2dGrad(c.x, o, r.gy).data, 1e-6, 1e-5, 'grad');
  });

  it.each(avgCases.slice(1, 6))('gradient matches finite differences: %j', async (c) => {
    await checkOp({ inputs: [c.x], fn: (x) => w.avgPool2d(x!, avgOpts(c)), ref: (x) => RP.avgPool2d(x!, c), gradOpts: { maxProbes: 12 } });
  });
});

describe.each(devices())('adaptiveAvgPool2d on %s', () => {
  it.each(adaptiveCases)('matches the reference, its gradient and finite differences: %j', async (c) => {
    const x = ND.from(new w.Generator(8).uniform(size(c.x), -2, 2), c.x);
    const r = await vjp((t) => w.adaptiveAvgPool2d(t, c.size), x);
    expectClose(r.y, RP.adaptiveAvgPool2d(x, c.want).data, 1e-6, 1e-5, 'forward');
    expectClose(r.gx, RP.adaptiveAvgPool2dGrad(c.x, c.want, r.gy).data, 1e-6, 1e-5, 'grad');
    await checkOp({ inputs: [c.x], fn: (t) => w.adaptiveAvgPool2d(t!, c.size), ref: (t) => RP.adaptiveAvgPool2d(t!, c.want), gradOpts: { maxProbes: 8 } });
  });
});

describe.each(devices())('pooling tables on %s', () => {
  it('survive eviction from the table cache between forward and backward', async () => {
    const o: AvgCase = { x: [1, 2, 9, 7], kernel: [3, 2], stride: [2, 2], padding: [1, 1], ceil: true };
    const xv = ND.from(new w.Generator(12).uniform(size(o.x), -1, 1), o.x);
    const r = await vjp((x) => {
      const y = w.avgPool2d(x, avgOpts(o));
      // More distinct geometries than the cache holds: the tables of y are evicted and disposed.
      w.noGrad(() => {
        for (let k = 1; k <= 300; k++) w.adaptiveAvgPool2d(w.zeros([1, 1, 1, 1]), [1 + (k % 20), 1 + Math.floor(k / 20)]).dispose();
      });
      return y;
    }, xv);
    expectClose(r.y, RP.avgPool2d(xv, o).data, 1e-6, 1e-5, 'forward');
    expectClose(r.gx, RP.avgPool2dGrad(xv.shape, o, r.gy).data, 1e-6, 1e-5, 'grad');
  });
});

describe.each(devices())('pooling of large planes on %s', () => {
  it('covers inputs past one row of the dispatch grid (more than 65535 workgroups)', async () => {
    const [h, wd] = [2100, 2100];
    const xv = new w.Generator(13).uniform(h * wd, -1, 1);
    const [y, idx, gx] = w.tidy(() => {
      const x = w.fromArray(xv, [1, 1, h, wd], { requiresGrad: true });
      const { output, indices } = w.maxPool2dWithIndices(x, { kernelSize: 2 });
      return [output, indices, w.grad(output, [x], { gradOutputs: [w.onesLike(output)] })[0]!];
    });
    const [yv, iv, gv] = [await y.data(), await idx.data(), await gx.data()];
    const want = new Float32Array(gv.length);
    for (let i = 0; i < yv.length; i++) {
      const oy = Math.floor(i / (wd / 2));
      const ox = i % (wd / 2);
      const at = [0, 1, wd, wd + 1].map((d) => 2 * oy * wd + 2 * ox + d).reduce((a, b) => (xv[b]! > xv[a]! ? b : a));
      if (iv[i] !== at || yv[i] !== xv[at]) throw new Error(`output ${i}: got ${yv[i]} at ${iv[i]}, want ${xv[at]} at ${at}`);
      want[at] = 1;
    }
    let bad = -1;
    for (let i = 0; i < want.length && bad < 0; i++) if (gv[i] !== want[i]) bad = i;
    expect(bad, 'first wrong input gradient').toBe(-1);
    [y, idx, gx].forEach((t) => t.dispose());
  });
});

describe.each(devices())('pooling errors on %s', () => {
  it('rejects bad input and options with typed errors naming the op and shape', () => {
    const x = w.zeros([1, 1, 3, 3]);
    expect(() => w.maxPool2d(w.zeros([3, 5, 5]), { kernelSize: 2 })).toThrow(w.ShapeError);
    expect(() => w.maxPool2d(w.zeros([3, 5, 5]), { kernelSize: 2 })).toThrow(/maxPool2d: input must be NCHW.*\[3,5,5\]/);
    expect(() => w.maxPool2d(x, { kernelSize: 5 })).toThrow(/maxPool2d: kernel extent 5x5.*larger than the padded input 3x3 \(shapes \[1,1,3,3\]\)/);
    expect(() => w.maxPool2d(x, { kernelSize: 2, dilation: 3 })).toThrow(w.ShapeError);
    expect(() => w.maxPool2d(x, { kernelSize: 3, padding: 2 })).toThrow(w.ArgumentError);
    expect(() => w.maxPool2d(x, { kernelSize: 3, padding: 2 })).toThrow(/at most half the kernel size/);
    expect(() => w.maxPool2d(x, { kernelSize: 2, stride: 0 })).toThrow(w.ArgumentError);
    expect(() => w.maxPool2d(x, { kernelSize: 0 })).toThrow(w.ArgumentError);
    expect(() => w.maxPool2d(x, { kernelSize: [2, 2, 2] as unknown as P2 })).toThrow(w.ArgumentError);
    expect(() => w.maxPool2d(w.zeros([1, 1, 0, 4]), { kernelSize: 1 })).toThrow(w.ShapeError);
    expect(() => w.maxPool2dWithIndices(x, { kernelSize: 4 })).toThrow(/maxPool2dWithIndices:/);
    expect(() => w.maxPool2d(w.zeros([1, 1, 3, 3], { dtype: 'i32' }), { kernelSize: 2 })).toThrow(w.DTypeError);
    expect(() => w.avgPool2d(x, { kernelSize: 4, padding: 0 })).toThrow(/avgPool2d: kernel extent 4x4/);
    expect(() => w.avgPool2d(x, { kernelSize: 2, padding: 1, divisorOverride: 0 })).toThrow(w.ArgumentError);
    expect(() => w.avgPool2d(x, { kernelSize: 1, padding: 1 })).toThrow(w.ArgumentError);
    expect(() => w.adaptiveAvgPool2d(x, 0)).toThrow(w.ArgumentError);
    expect(() => w.adaptiveAvgPool2d(x, [2, 1.5])).toThrow(/adaptiveAvgPool2d: outputSize/);
    expect(() => w.adaptiveAvgPool2d(w.zeros([2, 3]), 1)).toThrow(/adaptiveAvgPool2d: input must be NCHW.*\[2,3\]/);
    x.dispose();
  });

  it("takes the kernel size as PyTorch's second argument: maxPool2d(x, 2), avgPool2d(x, 3, { stride: 1 })", async () => {
    const x = w.randn([2, 3, 7, 6], { seed: 11 });
    const same = async (a: w.Tensor, b: w.Tensor) => {
      expect([...a.shape]).toEqual([...b.shape]);
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      a.dispose();
      b.dispose();
    };
    await same(w.maxPool2d(x, 2), w.maxPool2d(x, { kernelSize: 2 }));
    await same(w.maxPool2d(x, [3, 2], { stride: 1, padding: [1, 0] }), w.maxPool2d(x, { kernelSize: [3, 2], stride: 1, padding: [1, 0] }));
    await same(w.avgPool2d(x, 3, { stride: 1 }), w.avgPool2d(x, { kernelSize: 3, stride: 1 }));
    const a = w.maxPool2dWithIndices(x, 2);
    const b = w.maxPool2dWithIndices(x, { kernelSize: 2 });
    await same(a.indices, b.indices);
    await same(a.output, b.output);
    expect([...a.output.shape]).toEqual([2, 3, 3, 3]);
    expect(() => w.maxPool2d(x, 0)).toThrow(w.ArgumentError);
    x.dispose();
  });

  it('handles an empty batch', async () => {
    const x = w.zeros([0, 3, 5, 5]);
    expect([...w.maxPool2d(x, { kernelSize: 2 }).shape]).toEqual([0, 3, 2, 2]);
    expect([...w.avgPool2d(x, { kernelSize: 3, padding: 1 }).shape]).toEqual([0, 3, 2, 2]);
    expect([...w.adaptiveAvgPool2d(x, 1).shape]).toEqual([0, 3, 1, 1]);
  });
});

// PyTorch fixtures (test/fixtures/pool.json, scripts/fixtures/dense_pool_interp.py).
const p2 = (v: FixtureParam | undefined): P2 | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? [v, v] : (v as number[]).length === 0 ? undefined : [(v as number[])[0]!, (v as number[])[1]!];

function runFixture(c: FixtureCase, x: w.Tensor): { y: w.Tensor; indices?: w.Tensor } {
  const p = c.params;
  if (c.op === 'max_pool2d') {
    const r = w.maxPool2dWithIndices(x, { kernelSize: p2(p.kernel_size)!, stride: p2(p.stride), padding: p2(p.padding), dilation: p2(p.dilation), ceilMode: p.ceil_mode === true });
    return { y: r.output, indices: r.indices };
  }
  if (c.op === 'avg_pool2d') {
    return {
      y: w.avgPool2d(x, {
        kernelSize: p2(p.kernel_size)!,
        stride: p2(p.stride),
        padding: p2(p.padding),
        ceilMode: p.ceil_mode === true,
        countIncludePad: p.count_include_pad !== false,
        divisorOverride: typeof p.divisor_override === 'number' ? p.divisor_override : undefined,
      }),
    };
  }
  if (c.op === 'adaptive_avg_pool2d') {
    const s = p.output_size as number | (number | null)[];
    return { y: w.adaptiveAvgPool2d(x, typeof s === 'number' ? s : [s[0]!, s[1]!]) };
  }
  throw new Error(`unknown fixture op ${c.op}`);
}

describe.each(devices())('pooling vs PyTorch fixtures on %s', () => {
  const cases = loadFixtures('pool');
  it('has cases for every op', () => {
    expect(new Set(cases.map((c) => c.op))).toEqual(new Set(['max_pool2d', 'avg_pool2d', 'adaptive_avg_pool2d']));
  });
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const xin = c.inputs.x!;
    const [y, gx, indices] = w.tidy(() => {
      const x = w.fromArray(xin.data, xin.shape, { requiresGrad: true });
      const r = runFixture(c, x);
      const gy = w.fromArray(c.grad_output.data, c.grad_output.shape);
      return [r.y, w.grad(r.y, [x], { gradOutputs: [gy] })[0]!, r.indices] as const;
    });
    expect([...y.shape]).toEqual(c.output.shape);
    expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
    expect(relErr(await gx.data(), c.grads.x!.data), 'grad x').toBeLessThan(FIXTURE_TOLERANCE);
    if (c.indices) expect(await indices!.toArray()).toEqual(c.indices.data);
    [y, gx, indices].forEach((t) => t?.dispose());
  });
});
