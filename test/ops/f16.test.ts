/**
 * The f16 path (`runtime().f16`): k-major operands stored as f16, products accumulated in f32.
 *
 * Tolerances are worst-case bounds, element by element, not fudge factors. An output sums k products
 * a_i b_i. Storing an operand as f16 changes it by at most D16 = 2^-10 relative (WGSL lets the
 * conversion pick either neighbour; round-to-nearest would halve it), so a product moves by at most
 * (1 + D16)^2 - 1 relative; summing k + 2 terms in f32 (products, bias, residual) adds at most
 * (k + 2) 2^-24 of sum |a_i b_i| (the classic bound for recursive summation, in any order). Values
 * below f16's normal range (2^-14) round to a subnormal, off by at most 2^-24 absolute. Hence
 *   |f16 - exact| <= ((1 + D16)^2 - 1 + (k + 2) 2^-24) sum|a_i b_i| + k 2^-24 max|b|.
 * The test is not vacuous: the f32 path lies within the f32 part of that bound everywhere, and every
 * check also asserts that the f16 result leaves it somewhere (the operands really were rounded), and
 * that the kernels dispatched were the f16 ones. On inputs that f16 holds exactly, and whose sums
 * f32 holds exactly, the f16 path must be exact, which an f16 accumulator would not be.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as w from '../../src/index.js';
import type { Kernel } from '../../src/gpu/pipeline-cache.js';
import { f16Variant } from '../../src/gpu/shader-f16.js';
import { readShaderFile } from '../../src/gpu/shader-files.js';
import { matmulRaw, type MatmulVariant } from '../../src/ops/kernels/matmul.js';
import { makeInputs } from '../helpers/check-op.js';
import { devices, skipped } from '../helpers/devices.js';
import * as RC from '../reference/conv.js';
import * as R from '../reference/ndarray.js';

const U32 = 2 ** -24;
const D16 = 2 ** -10;

/** The f32 path's bound: summation of k + 2 terms whose absolute values sum to `abs`. */
function bound32(abs: number, k: number): number {
  return (k + 2) * U32 * abs;
}

/** The f16 path's bound (header comment), for operands no larger than `maxB` in magnitude. */
function bound16(abs: number, k: number, maxB: number): number {
  return ((1 + D16) ** 2 - 1) * abs + bound32(abs, k) + k * U32 * maxB;
}

/**
 * Checks an f16 result against the exact one (`want`, with `abs` = sum of |products| per element)
 * and against the f32 result; returns the largest error as a fraction of its bound.
 */
function expectF16(got16: ArrayLike<number>, got32: ArrayLike<number>, want: R.ND, abs: R.ND, k: number, maxB: number, what: string): number {
  expect(got16.length, `${what}: length`).toBe(want.size);
  let worst = 0;
  let rounded = false;
  for (let i = 0; i < want.size; i++) {
    const b16 = bound16(abs.data[i]!, k, maxB);
    const b32 = bound32(abs.data[i]!, k);
    const e16 = Math.abs(got16[i]! - want.data[i]!);
    const e32 = Math.abs(got32[i]! - want.data[i]!);
    if (!(e32 <= b32)) throw new Error(`${what}[${i}]: f32 ${got32[i]} vs exact ${want.data[i]} beyond ${b32}`);
    if (!(e16 <= b16)) throw new Error(`${what}[${i}]: f16 ${got16[i]} vs exact ${want.data[i]} beyond ${b16}`);
    if (!(Math.abs(got16[i]! - got32[i]!) <= b16 + b32)) throw new Error(`${what}[${i}]: f16 ${got16[i]} vs f32 ${got32[i]} beyond ${b16 + b32}`);
    worst = Math.max(worst, e16 / b16);
    rounded ||= e16 > b32;
  }
  expect(rounded, `${what}: the f16 result never left the f32 bound, so its operands were not rounded to f16`).toBe(true);
  return worst;
}

const abs = (x: R.ND) => R.map(x, Math.abs);

/** The kernels `fn` dispatches. */
async function dispatched(fn: () => unknown): Promise<Kernel[]> {
  const spy = vi.spyOn(w.runtime(), 'dispatch');
  try {
    await fn();
    return spy.mock.calls.map((c) => c[0]);
  } finally {
    spy.mockRestore();
  }
}

/** Runs fn with the runtime's f16 switch on. */
function f16On<T>(fn: () => T): T {
  const rt = w.runtime();
  rt.f16 = true;
  try {
    return fn();
  } finally {
    rt.f16 = false;
  }
}


describe.each(devices())('f16 switch on %s', (dev) => {
  it("throws ArgumentError naming 'shader-f16' on an adapter without it", () => {
    const rt = dev.runtime;
    const mutable = rt as unknown as { features: ReadonlySet<string> };
    const saved = mutable.features;
    mutable.features = new Set([...saved].filter((f) => f !== 'shader-f16'));
    try {
      expect(() => (rt.f16 = true)).toThrow(w.ArgumentError);
      expect(() => (rt.f16 = true)).toThrow(/'shader-f16'/);
      expect(rt.f16).toBe(false);
      rt.f16 = false; // turning it off is always allowed
    } finally {
      mutable.features = saved;
    }
  });

  it('derives f16 modules from shaders that declare an f16 alias, and only those', () => {
    const text = f16Variant('matmul', readShaderFile('matmul'));
    expect(text.startsWith('enable f16;\n')).toBe(true);
    expect(text).toMatch(/^alias kvec = vec4<f16>;$/m);
    expect(text).not.toMatch(/vec4<f32>; \/\/ f16:/);
    expect(() => f16Variant('binary', readShaderFile('binary'))).toThrow(w.ArgumentError);
  });
});

describe.skipIf(skipped('f16 path')).each(devices())('f16 path on %s (needs shader-f16)', (dev) => {
  // Each test sets the runtime's kernel options it needs; they are restored after it.
  let saved: w.KernelOptions;
  beforeEach(() => {
    saved = dev.runtime.kernelOptions;
  });
  afterEach(() => {
    dev.runtime.f16 = false;
    dev.runtime.kernelOptions = saved;
  });

  /** One raw product in f32 and f16, checked against the float64 reference. */
  async function checkProduct(variant: MatmulVariant, [batch, m, k, n]: number[], transA: boolean, transB: boolean, shareA = false): Promise<number> {
    const sa = [shareA ? 1 : batch!, ...(transA ? [k!, m!] : [m!, k!])];
    const sb = [batch!, ...(transB ? [n!, k!] : [k!, n!])];
    const [ha, hb] = makeInputs([sa, sb], 7);
    const opA = transA ? R.permute(ha!, [0, 2, 1]) : ha!;
    const opB = transB ? R.permute(hb!, [0, 2, 1]) : hb!;
    const want = R.matmul(opA, opB);
    const wantAbs = R.matmul(abs(opA), abs(opB));
    const a = w.fromArray(ha!.data, ha!.shape);
    const b = w.fromArray(hb!.data, hb!.shape);
    const plan = { batch: batch!, m: m!, n: n!, k: k!, transA, transB, strideA: shareA ? 0 : m! * k!, strideB: k! * n! };
    const y32 = matmulRaw(a, b, plan, [batch!, m!, n!], variant);
    let y16: w.Tensor | null = null;
    const used = await dispatched(() => f16On(() => (y16 = matmulRaw(a, b, plan, [batch!, m!, n!], variant))));
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((kn) => kn.f16), 'every pack and product dispatch is an f16 kernel').toBe(true);
    expect(used.some((kn) => kn.entry === variant)).toBe(true);
    const worst = expectF16(await y16!.data(), await y32.data(), want, wantAbs, k!, 2, `${variant} [${batch},${m},${k},${n}] ${transA} ${transB}`);
    for (const t of [a, b, y32, y16!]) t.dispose();
    return worst;
  }

  describe.each(['outer', 'tiled'] as const)('matmul %s', (variant) => {
    // [batch, m, k, n]: odd sizes, a batch, and K % 4 == 0 (pack_rows4 reads vec4s).
    const shapes = [
      [1, 37, 67, 45],
      [2, 33, 65, 31],
      [1, 20, 24, 44],
    ];
    it.each(shapes)('batch %i, %i x %i x %i, every transpose, within the f16 bound', async (...shape) => {
      for (const transA of [false, true]) for (const transB of [false, true]) await checkProduct(variant, shape, transA, transB);
    });
    it('an operand shared by the batch', async () => {
      await checkProduct(variant, [3, 19, 21, 23], false, false, true);
    });
  });

  it('is exact where f16 holds the inputs and f32 the sums (so it accumulates in f32)', async () => {
    const [m, k, n] = [33, 96, 29];
    // Multiples of 1/64 in [-2, 2]: 8 significant bits, exact in f16; products are multiples of 2^-12
    // below 4 and every partial sum stays below 2^12, so f32 sums them without rounding.
    const g = new w.Generator(11);
    const grid = (len: number) => Float64Array.from({ length: len }, () => (Math.floor(g.next() * 257) - 128) / 64);
    const ha = new R.ND([k, m], grid(k * m));
    const hb = new R.ND([k, n], grid(k * n));
    const want = R.matmul(R.permute(ha, [1, 0]), hb);
    const a = w.fromArray(ha.data, ha.shape);
    const b = w.fromArray(hb.data, hb.shape);
    const plan = { batch: 1, m, n, k, transA: true, transB: false, strideA: 0, strideB: 0 };
    const y = f16On(() => matmulRaw(a, b, plan, [m, n], 'outer'));
    expect(Array.from(await y.data())).toEqual(Array.from(want.data));
    // The same sums accumulated in f16 (simulated) miss, so exactness tells the accumulators apart.
    let f16Misses = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s = roundF16(s + ha.data[t * m + i]! * hb.data[t * n + j]!);
        if (s !== want.data[i * n + j]) f16Misses++;
      }
    }
    expect(f16Misses).toBeGreaterThan((m * n) / 2);
    for (const t of [a, b, y]) t.dispose();
  });

  interface ConvCase {
    x: [number, number, number, number];
    o: number;
    k: number;
    stride: number;
    pad: number;
    bias?: boolean;
    /** im2col chunk budget in bytes (small values force chunks of pixel ranges). */
    chunk?: number;
  }
  const convCases: ConvCase[] = [
    { x: [2, 5, 9, 8], o: 7, k: 3, stride: 1, pad: 1, bias: true }, // cols3, stride 1
    { x: [2, 6, 11, 13], o: 9, k: 3, stride: 2, pad: 1 }, // cols (ow = 7)
    { x: [1, 4, 12, 16], o: 5, k: 3, stride: 2, pad: 1, bias: true }, // cols3, stride 2
    { x: [3, 8, 5, 7], o: 6, k: 1, stride: 1, pad: 0 }, // pointwise: xp packed to f16
    { x: [2, 3, 10, 9], o: 5, k: 3, stride: 1, pad: 1, chunk: 1024 }, // pixel-range chunks
  ];

  /** dw[o, c, u, v] = sum over b, i, j of gy[b, o, i, j] x[b, c, i*s - p + u, j*s - p + v]. */
  function refWeightGrad(x: R.ND, gy: R.ND, k: number, s: number, p: number): R.ND {
    const [n, c, h, wd] = x.shape as [number, number, number, number];
    const [, o, oh, ow] = gy.shape as [number, number, number, number];
    const out = new Float64Array(o * c * k * k);
    for (let oc = 0; oc < o; oc++)
      for (let ci = 0; ci < c; ci++)
        for (let u = 0; u < k; u++)
          for (let v = 0; v < k; v++) {
            let sum = 0;
            for (let b = 0; b < n; b++)
              for (let i = 0; i < oh; i++)
                for (let j = 0; j < ow; j++) {
                  const y = i * s - p + u;
                  const xx = j * s - p + v;
                  if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                  sum += gy.data[((b * o + oc) * oh + i) * ow + j]! * x.data[((b * c + ci) * h + y) * wd + xx]!;
                }
            out[((oc * c + ci) * k + u) * k + v] = sum;
          }
    return new R.ND([o, c, k, k], out);
  }

  /** conv2d's forward and both gradients in f32 and f16 (every pass), against the references. */
  async function checkConv(c: ConvCase, variant: 'outer' | 'tiled'): Promise<void> {
    const [n, ci, h, wd] = c.x;
    const oh = Math.floor((h + 2 * c.pad - c.k) / c.stride) + 1;
    const ow = Math.floor((wd + 2 * c.pad - c.k) / c.stride) + 1;
    const [hx, hw, hb, hgy] = makeInputs([c.x, [c.o, ci, c.k, c.k], [c.o], [n, c.o, oh, ow]], 3);
    const bias = c.bias ? hb! : null;
    const refOpts = { stride: [c.stride, c.stride] as [number, number], pad: [c.pad, c.pad, c.pad, c.pad] as [number, number, number, number] };
    const outPad: [number, number] = [h - ((oh - 1) * c.stride - 2 * c.pad + c.k), wd - ((ow - 1) * c.stride - 2 * c.pad + c.k)];
    const tOpts = { stride: [c.stride, c.stride] as [number, number], padding: [c.pad, c.pad] as [number, number], outputPadding: outPad };
    const wants = {
      y: [RC.conv2d(hx!, hw!, bias, refOpts), RC.conv2d(abs(hx!), abs(hw!), bias && abs(bias), refOpts), ci * c.k * c.k],
      dx: [RC.convTranspose2d(hgy!, hw!, null, tOpts), RC.convTranspose2d(abs(hgy!), abs(hw!), null, tOpts), c.o * c.k * c.k],
      dw: [refWeightGrad(hx!, hgy!, c.k, c.stride, c.pad), refWeightGrad(abs(hx!), abs(hgy!), c.k, c.stride, c.pad), n * oh * ow],
    } as const;
    const old = dev.runtime.kernelOptions;
    dev.runtime.kernelOptions = {
      ...old,
      convVariant: variant,
      ...(c.chunk ? { convChunkBytes: c.chunk } : {}),
      f16Passes: { ...old.f16Passes, 'conv-input': true, 'conv-weight': true },
    };
    try {
      const run = async (f16: boolean) => {
        dev.runtime.f16 = f16;
        const x = w.fromArray(hx!.data, hx!.shape, { requiresGrad: true });
        const wt = w.fromArray(hw!.data, hw!.shape, { requiresGrad: true });
        const b = c.bias ? w.fromArray(hb!.data, hb!.shape) : null;
        const gy = w.fromArray(hgy!.data, hgy!.shape);
        let out: Float32Array[] = [];
        const used = await dispatched(async () => {
          const y = w.conv2d(x, wt, b, { stride: c.stride, padding: c.pad });
          const [dx, dw] = w.grad(y, [x, wt], { gradOutputs: [gy] });
          out = (await Promise.all([y.data(), dx!.data(), dw!.data()])) as Float32Array[];
          for (const t of [y, dx!, dw!]) t.dispose();
        });
        for (const t of [x, wt, b, gy]) t?.dispose();
        dev.runtime.f16 = false;
        return { out, used };
      };
      const r32 = await run(false);
      const r16 = await run(true);
      expect(r32.used.some((kn) => kn.f16)).toBe(false);
      const products = r16.used.filter((kn) => kn.entry === variant);
      expect(products.length).toBeGreaterThanOrEqual(3);
      expect(products.every((kn) => kn.f16), 'every product ran its f16 kernel').toBe(true);
      const names = ['y', 'dx', 'dw'] as const;
      names.forEach((name, i) => {
        const [want, wantAbs, k] = wants[name];
        expectF16(r16.out[i]!, r32.out[i]!, want, wantAbs, k, 2, `${variant} ${JSON.stringify(c)} ${name}`);
      });
    } finally {
      dev.runtime.kernelOptions = old;
    }
  }

  it.each(convCases)('conv2d forward and gradients (outer) within the f16 bound: %j', async (c) => {
    await checkConv(c, 'outer');
  });

  it('conv2d on tiled', async () => {
    await checkConv(convCases[0]!, 'tiled');
    await checkConv(convCases[3]!, 'tiled');
  });

  it('by default only the forward of a convolution runs f16, its gradients stay f32', async () => {
    dev.runtime.kernelOptions = { ...dev.runtime.kernelOptions, convVariant: 'outer' };
    const x = w.randn([2, 4, 8, 8], { seed: 1, requiresGrad: true });
    const wt = w.randn([6, 4, 3, 3], { seed: 2, requiresGrad: true });
    const y = f16On(() => w.conv2d(x, wt, null, { padding: 1 }));
    const used = await dispatched(() => f16On(() => w.grad(y, [x, wt], { gradOutputs: [w.onesLike(y)] }).forEach((g) => g?.dispose())));
    expect(used.some((kn) => kn.entry === 'outer')).toBe(true);
    expect(used.some((kn) => kn.f16)).toBe(false);
    for (const t of [x, wt, y]) t.dispose();
  });

  it('a few training steps of a small conv net have f32-like losses', async () => {
    dev.runtime.kernelOptions = { ...dev.runtime.kernelOptions, convVariant: 'outer' };
    const seeds = makeInputs([[8, 3, 3, 3], [8], [8, 8, 3, 3], [2, 8, 1, 1], [4, 3, 12, 12], [4, 2, 12, 12]], 21);
    const train = async (f16: boolean): Promise<number[]> => {
      dev.runtime.f16 = f16;
      const [w1, b1, w2, w3] = seeds.slice(0, 4).map((h, i) => w.fromArray(h.data.map((v) => v * (i === 1 ? 0.1 : 0.3)), h.shape, { requiresGrad: true }));
      const x = w.fromArray(seeds[4]!.data, seeds[4]!.shape);
      const target = w.fromArray(seeds[5]!.data, seeds[5]!.shape);
      const opt = new w.SGD([w1!, b1!, w2!, w3!], { lr: 0.05 });
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        const loss = w.tidy(() => {
          const h1 = w.conv2d(x, w1!, b1!, { padding: 1, activation: 'relu' });
          const h2 = w.conv2d(h1, w2!, null, { padding: 1, activation: 'relu' });
          const l = w.mseLoss(w.conv2d(h2, w3!, null), target);
          w.backward(l);
          return l;
        });
        losses.push(await loss.item());
        loss.dispose();
        opt.step();
        opt.zeroGrad();
      }
      opt.dispose();
      for (const t of [w1, b1, w2, w3, x, target]) t!.dispose();
      dev.runtime.f16 = false;
      return losses;
    };
    const l32 = await train(false);
    const l16 = await train(true);
    expect(l32[4]!).toBeLessThan(l32[0]!);
    expect(l16[4]!).toBeLessThan(l16[0]!);
    // Each loss is a mean over 1152 outputs, each off by a few f16 roundings (2^-11 = 4.9e-4 relative)
    // through three layers; their signs vary, so the mean moves less (at most 1.5e-4 relative on
    // lavapipe). 1e-3, two f16 roundings, is a sanity bound: f16 training follows f32 step by step.
    // The losses must differ, too: the forward really ran on f16 operands.
    l16.forEach((l, i) => expect(Math.abs(l - l32[i]!) / l32[i]!, `step ${i}: ${l} vs ${l32[i]}`).toBeLessThan(1e-3));
    expect(l16).not.toEqual(l32);
  });
});

/** x rounded to the nearest f16 (ties away from zero; the test only counts misses, so ties hardly matter). */
function roundF16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14);
  const ulp = 2 ** (e - 10);
  return Math.sign(x) * Math.round(Math.abs(x) / ulp) * ulp;
}
