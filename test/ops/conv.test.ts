import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { type ConvVariant } from '../../src/ops/kernels/conv.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr } from '../helpers/fixtures.js';
import * as RC from '../reference/conv.js';
import { ND, map, map2 } from '../reference/ndarray.js';

interface Case {
  x: [number, number, number, number];
  o: number;
  k: [number, number];
  stride?: [number, number];
  pad?: [number, number, number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}

const cases: Case[] = [
  { x: [1, 1, 5, 5], o: 1, k: [3, 3] },
  { x: [2, 3, 7, 6], o: 4, k: [3, 3], pad: [1, 1, 1, 1], bias: true },
  { x: [1, 4, 9, 8], o: 6, k: [3, 2], stride: [2, 2], pad: [0, 1, 2, 1], bias: true },
  { x: [3, 2, 11, 10], o: 5, k: [3, 3], stride: [3, 2], pad: [1, 1, 1, 1], dilation: [2, 1] },
  { x: [2, 4, 6, 7], o: 6, k: [3, 3], pad: [2, 2, 2, 2], dilation: [2, 2], groups: 2, bias: true },
  { x: [2, 6, 5, 5], o: 6, k: [3, 3], pad: [1, 1, 1, 1], groups: 6 },
  { x: [2, 5, 4, 3], o: 7, k: [1, 1], bias: true },
  { x: [1, 3, 8, 8], o: 9, k: [1, 1], stride: [2, 2] },
];

function opts(c: Case): w.Conv2dOptions {
  return { stride: c.stride, padding: c.pad, dilation: c.dilation, groups: c.groups };
}

describe.each(devices())('conv2d on %s', () => {
  it.each(cases)('matches the float64 reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    const shapes = [c.x, [c.o, c.x[1] / g, c.k[0], c.k[1]], ...(c.bias ? [[c.o]] : [])];
    await checkOp({
      inputs: shapes,
      fn: (x, wt, b) => w.conv2d(x!, wt!, b ?? null, opts(c)),
      ref: (x, wt, b) => RC.conv2d(x!, wt!, b ?? null, { stride: c.stride, pad: c.pad, dilation: c.dilation, groups: c.groups }),
      gradOpts: { maxProbes: 12 },
    });
  });

  it('fuses bias, residual and ReLU', async () => {
    const c: Case = { x: [2, 3, 6, 5], o: 4, k: [3, 3], pad: [1, 1, 1, 1] };
    await checkOp({
      inputs: [c.x, [4, 3, 3, 3], [4], [2, 4, 6, 5]],
      fn: (x, wt, b, r) => w.conv2d(x!, wt!, b!, { padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const y = RC.conv2d(x!, wt!, b!, { pad: [1, 1, 1, 1] });
        return map(new ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      // A small step keeps finite differences from straddling the ReLU kink.
      gradOpts: { maxProbes: 12, eps: 1e-3, atol: 5e-3 },
    });
  });

  it('rejects bad shapes with typed errors', () => {
    const x = w.zeros([1, 4, 5, 5]);
    expect(() => w.conv2d(x, w.zeros([2, 3, 3, 3]))).toThrow(w.ShapeError);
    expect(() => w.conv2d(x, w.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/divisible by groups/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 7, 7]))).toThrow(/larger than the padded input/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 3, 3]), w.zeros([3]))).toThrow(/bias must have shape/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 3, 3]), null, { stride: 0 })).toThrow(w.ArgumentError);
  });
});

interface TCase {
  x: [number, number, number, number];
  cout: number;
  k: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  outputPadding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}

const tcases: TCase[] = [
  { x: [1, 2, 4, 4], cout: 3, k: [3, 3] },
  { x: [2, 3, 5, 4], cout: 2, k: [3, 3], stride: [2, 2], padding: [1, 1], outputPadding: [1, 0], bias: true },
  { x: [1, 4, 3, 5], cout: 6, k: [2, 3], stride: [2, 3], dilation: [2, 1], groups: 2 },
  { x: [2, 2, 4, 4], cout: 2, k: [4, 4], stride: [2, 2], padding: [1, 1], bias: true },
];

describe.each(devices())('convTranspose2d on %s', () => {
  it.each(tcases)('matches the float64 reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    const o = { stride: c.stride, padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups };
    await checkOp({
      inputs: [c.x, [c.x[1], c.cout / g, c.k[0], c.k[1]], ...(c.bias ? [[c.cout]] : [])],
      fn: (x, wt, b) => w.convTranspose2d(x!, wt!, b ?? null, o),
      ref: (x, wt, b) => RC.convTranspose2d(x!, wt!, b ?? null, o),
      gradOpts: { maxProbes: 12 },
    });
  });
});

/**
 * Every pass again with each variant forced (`direct`; im2col chunks through `outer`, the CPU kernel,
 * and `tiled`, the GPU one), so whatever the adapter picks by shape, all of them are covered here.
 * Chunks are kept tiny, so the products run over several pieces of the batch and of single images.
 */
const VARIANTS: ConvVariant[] = ['direct', 'outer', 'tiled'];

describe.each(VARIANTS)('conv2d with the %s variant', (variant) => {
  // The runtime's kernel options, for this block only (restored after it).
  let old: w.KernelOptions;
  beforeAll(() => {
    const rt = w.runtime();
    old = rt.kernelOptions;
    rt.kernelOptions = { ...old, convVariant: variant, convChunkBytes: 4096 };
  });
  afterAll(() => {
    w.runtime().kernelOptions = old;
  });

  it.each(cases)('matches the float64 reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    await checkOp({
      inputs: [c.x, [c.o, c.x[1] / g, c.k[0], c.k[1]], ...(c.bias ? [[c.o]] : [])],
      fn: (x, wt, b) => w.conv2d(x!, wt!, b ?? null, opts(c)),
      ref: (x, wt, b) => RC.conv2d(x!, wt!, b ?? null, { stride: c.stride, pad: c.pad, dilation: c.dilation, groups: c.groups }),
      gradOpts: { maxProbes: 12 },
    });
  });

  it('fuses bias, residual and ReLU', async () => {
    await checkOp({
      inputs: [[2, 3, 6, 5], [4, 3, 3, 3], [4], [2, 4, 6, 5]],
      fn: (x, wt, b, r) => w.conv2d(x!, wt!, b!, { padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const y = RC.conv2d(x!, wt!, b!, { pad: [1, 1, 1, 1] });
        return map(new ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      gradOpts: { maxProbes: 12, eps: 1e-3, atol: 5e-3 },
    });
  });

  it('fuses a residual without bias', async () => {
    await checkOp({
      inputs: [[2, 5, 7, 6], [16, 5, 3, 3], [2, 16, 4, 3]],
      fn: (x, wt, r) => w.conv2d(x!, wt!, null, { stride: 2, padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, r) => {
        const y = RC.conv2d(x!, wt!, null, { stride: [2, 2], pad: [1, 1, 1, 1] });
        return map(new ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      gradOpts: { maxProbes: 12, eps: 1e-3, atol: 5e-3 },
    });
  });

  it.each(tcases)('convTranspose2d matches the reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    const o = { stride: c.stride, padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups };
    await checkOp({
      inputs: [c.x, [c.x[1], c.cout / g, c.k[0], c.k[1]], ...(c.bias ? [[c.cout]] : [])],
      fn: (x, wt, b) => w.convTranspose2d(x!, wt!, b ?? null, o),
      ref: (x, wt, b) => RC.convTranspose2d(x!, wt!, b ?? null, o),
      gradOpts: { maxProbes: 12 },
    });
  });

  it('matches the PyTorch fixtures', async () => {
    type P = number | [number, number];
    const pair = (p: unknown): P => (Array.isArray(p) ? [p[0] as number, p[1] as number] : (p as number));
    for (const c of loadFixtures('conv2d')) {
      const p = c.params;
      const padding = p.pad ? (p.pad as [number, number, number, number]) : (pair(p.padding) as number | [number, number]);
      const t = (name: string) => {
        const f = c.inputs[name];
        return f ? w.requireGrad(w.fromArray(f.data, f.shape)) : null;
      };
      const leaves = [t('x')!, t('weight')!, ...(c.inputs.bias ? [t('bias')!] : [])];
      const y = w.conv2d(leaves[0]!, leaves[1]!, leaves[2] ?? null, { stride: pair(p.stride), padding, dilation: pair(p.dilation), groups: p.groups as number });
      expect(relErr(await y.data(), c.output.data), `${c.name} output`).toBeLessThan(FIXTURE_TOLERANCE);
      const gs = w.grad(y, leaves, { gradOutputs: [w.fromArray(c.grad_output.data, c.grad_output.shape)] });
      const names = ['x', 'weight', 'bias'];
      for (let i = 0; i < leaves.length; i++) {
        expect(relErr(await gs[i]!.data(), c.grads[names[i]!]!.data), `${c.name} grad ${names[i]}`).toBeLessThan(FIXTURE_TOLERANCE);
      }
      for (const x of [...leaves, y, ...gs]) x?.dispose();
    }
  });
});

/** Float64 gradients of sum(conv2d(x, w) * gy) for x and w (groups 1), as scatter loops. */
function refConvGrads(x: ND, wt: ND, gy: ND, stride: number, pad: number): [ND, ND] {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = wt.shape as [number, number, number, number];
  const [, , oh, ow] = gy.shape as [number, number, number, number];
  const dx = new Float64Array(x.size);
  const dw = new Float64Array(wt.size);
  for (let b = 0; b < n; b++)
    for (let co = 0; co < o; co++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const g = gy.data[((b * o + co) * oh + i) * ow + j]!;
          for (let ci = 0; ci < c; ci++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const yy = i * stride - pad + u;
                const xx = j * stride - pad + v;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                const xi = ((b * c + ci) * h + yy) * wd + xx;
                const wi = ((co * c + ci) * kh + u) * kw + v;
                dx[xi] += g * wt.data[wi]!;
                dw[wi] += g * x.data[xi]!;
              }
        }
  return [new ND(x.shape, dx), new ND(wt.shape, dw)];
}

// Shapes large enough for the im2col path to be chosen on its own, checked whole (forward, input and
// weight gradients) against float64 with f32 tolerances, with chunk budgets that split the batch into
// groups of images, single images into pixel ranges, or not at all.
const big: { x: [number, number, number, number]; o: number; k: number; stride: number; pad: number; chunk: number }[] = [
  { x: [3, 16, 12, 12], o: 32, k: 3, stride: 1, pad: 1, chunk: 32 << 20 },
  { x: [3, 16, 12, 12], o: 32, k: 3, stride: 1, pad: 1, chunk: 2 * 144 * 144 * 4 },
  { x: [2, 12, 9, 11], o: 20, k: 3, stride: 1, pad: 1, chunk: 5000 },
  { x: [2, 16, 15, 15], o: 24, k: 3, stride: 2, pad: 1, chunk: 3000 },
  { x: [3, 32, 10, 10], o: 32, k: 1, stride: 1, pad: 0, chunk: 2000 },
  { x: [4, 32, 15, 15], o: 32, k: 1, stride: 2, pad: 1, chunk: 32 << 20 },
  { x: [2, 16, 16, 16], o: 32, k: 5, stride: 1, pad: 2, chunk: 32 << 20 },
];

describe.each(devices())('conv2d on larger shapes on %s', () => {
  it.each(big)('forward and both gradients match float64: %j', async (c) => {
    await w.runtime().withKernelOptions({ convChunkBytes: c.chunk }, async () => {
      const [hx, hw, hg] = makeInputs([c.x, [c.o, c.x[1], c.k, c.k]], 7);
      const want = RC.conv2d(hx!, hw!, null, { stride: [c.stride, c.stride], pad: [c.pad, c.pad, c.pad, c.pad] });
      const [gyh] = makeInputs([want.shape], 8);
      void hg;
      const x = w.requireGrad(w.fromArray(hx!.data, hx!.shape));
      const wt = w.requireGrad(w.fromArray(hw!.data, hw!.shape));
      const y = w.conv2d(x, wt, null, { stride: c.stride, padding: c.pad });
      const [dx, dw] = w.grad(y, [x, wt], { gradOutputs: [w.fromArray(gyh!.data, gyh!.shape)] });
      const [wantDx, wantDw] = refConvGrads(hx!, hw!, gyh!, c.stride, c.pad);
      // Sums of k products of values in [-2, 2]: f32 rounding grows like sqrt(k).
      const tol = (k: number) => 2e-5 * Math.sqrt(k) * 4;
      const kdim = c.x[1] * c.k * c.k;
      expectClose(await y.data(), want.data, tol(kdim), 1e-4, 'forward');
      expectClose(await dx!.data(), wantDx.data, tol(c.o * c.k * c.k) * 4, 1e-4, 'dx');
      expectClose(await dw!.data(), wantDw.data, tol(want.size / c.o) * 4, 1e-4, 'dw');
      for (const t of [x, wt, y, dx!, dw!]) t.dispose();
    });
  });
});

/** Seeded ungrouped cases with odd sizes and 1-11 output channels (blocks of 4 and 8 part-filled). */
function randomDirectCases(count: number, seed: number): { x: [number, number, number, number]; o: number; k: number; stride: number; pad: number }[] {
  const g = new w.Generator(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(g.next() * (hi - lo + 1));
  return Array.from({ length: count }, () => {
    const k = int(1, 5);
    return { x: [int(1, 3), int(1, 5), int(k, 13), int(k, 11)], o: int(1, 11), k, stride: int(1, 2), pad: int(0, Math.floor(k / 2)) };
  });
}

describe.each(devices())('direct convolution register blocks on %s', (dev) => {
  // `main` with each block, then `row` (taken at horizontal stride 1) with blocks of 4 and 8 channels.
  const blocks = [
    { fwd: { bo: 4, bp: 1 }, wgt: { bo: 4, bk: 1 }, row: false },
    { fwd: { bo: 8, bp: 1 }, wgt: { bo: 8, bk: 1 }, row: false },
    { fwd: { bo: 4, bp: 2 }, wgt: { bo: 4, bk: 2 }, row: false },
    { fwd: { bo: 8, bp: 2 }, wgt: { bo: 8, bk: 2 }, row: false },
    { fwd: { bo: 4, bp: 1 }, wgt: { bo: 8, bk: 2 }, row: true },
    { fwd: { bo: 8, bp: 1 }, wgt: { bo: 8, bk: 2 }, row: true },
    // the shape rule's blocks (min(og, 8) channels)
    { fwd: null, wgt: null, row: true },
    { fwd: null, wgt: null, row: false },
  ] as const;

  it.each(randomDirectCases(8, 41))('forward and weight gradient: the same values for every block, float64 and finite differences: %j', async (c) => {
    const [hx, hw] = makeInputs([c.x, [c.o, c.x[1], c.k, c.k]], 5);
    const want = RC.conv2d(hx!, hw!, null, { stride: [c.stride, c.stride], pad: [c.pad, c.pad, c.pad, c.pad] });
    const [gyh] = makeInputs([want.shape], 6);
    const [, wantDw] = refConvGrads(hx!, hw!, gyh!, c.stride, c.pad);
    let first: { y: Float32Array; dw: Float32Array } | null = null;
    for (const b of blocks) {
      const got = await dev.runtime.withKernelOptions({ convVariant: 'direct', convForwardBlock: b.fwd, convWeightBlock: b.wgt, convForwardRow: b.row }, async () => {
        const x = w.fromArray(hx!.data, hx!.shape);
        const wt = w.requireGrad(w.fromArray(hw!.data, hw!.shape));
        const y = w.conv2d(x, wt, null, { stride: c.stride, padding: c.pad });
        const [dw] = w.grad(y, [wt], { gradOutputs: [w.fromArray(gyh!.data, gyh!.shape)] });
        const r = { y: (await y.data()) as Float32Array, dw: (await dw!.data()) as Float32Array };
        for (const t of [x, wt, y, dw!]) t.dispose();
        return r;
      });
      expectClose(got.y, want.data, 1e-5, 1e-4, `forward ${JSON.stringify(b)}`);
      expectClose(got.dw, wantDw.data, 1e-4, 1e-4, `dw ${JSON.stringify(b.wgt)}`);
      // Blocks change which invocation computes a sum, never its order.
      if (first) {
        expect([...got.y]).toEqual([...first.y]);
        expect([...got.dw]).toEqual([...first.dw]);
      } else first = got;
    }
    // Finite differences through the default (shape-rule) blocks.
    await dev.runtime.withKernelOptions({ convVariant: 'direct' }, () =>
      checkOp({
        inputs: [c.x, [c.o, c.x[1], c.k, c.k]],
        fn: (x, wt) => w.conv2d(x!, wt!, null, { stride: c.stride, padding: c.pad }),
        ref: (x, wt) => RC.conv2d(x!, wt!, null, { stride: [c.stride, c.stride], pad: [c.pad, c.pad, c.pad, c.pad] }),
        gradOpts: { maxProbes: 8 },
      }),
    );
  });
});

describe.each(devices())('the direct forward row kernel on %s', (dev) => {
  // Vertical stride and dilation are the row kernel's to handle; horizontal ones send it to `main`.
  const cases = [
    { x: [2, 3, 13, 11], o: 6, k: [3, 5], stride: [2, 1], dilation: [2, 1], pad: [1, 2, 0, 1], bias: true },
    { x: [1, 5, 9, 17], o: 9, k: [4, 3], stride: [3, 1], dilation: [1, 1], pad: [0, 0, 1, 1], bias: false },
    { x: [3, 2, 10, 7], o: 3, k: [2, 7], stride: [1, 1], dilation: [3, 1], pad: [2, 2, 3, 3], bias: true },
    { x: [2, 4, 7, 9], o: 5, k: [3, 3], stride: [1, 2], dilation: [1, 2], pad: [1, 1, 1, 1], bias: true },
  ] as const;
  it.each(cases)('gives main\'s values, the float64 reference\'s and finite differences: %j', async (c) => {
    const o = { stride: [...c.stride] as [number, number], padding: [...c.pad] as [number, number, number, number], dilation: [...c.dilation] as [number, number] };
    const shapes = [c.x, [c.o, c.x[1], c.k[0], c.k[1]], ...(c.bias ? [[c.o]] : [])];
    const hs = makeInputs(shapes, 9);
    const want = RC.conv2d(hs[0]!, hs[1]!, hs[2] ?? null, { stride: o.stride, pad: o.padding, dilation: o.dilation });
    // The fused epilogue too: ReLU(conv + bias + residual).
    const [res] = makeInputs([want.shape], 10);
    const fused = map2(want, res!, (v, r) => Math.max(0, v + r));
    const run = (row: boolean) =>
      dev.runtime.withKernelOptions({ convVariant: 'direct', convForwardRow: row }, async () => {
        const t = hs.map((h) => w.fromArray(h.data, h.shape));
        const r = w.fromArray(res!.data, res!.shape);
        const y = w.conv2d(t[0]!, t[1]!, t[2] ?? null, { ...o, activation: 'relu', residual: r });
        const v = (await y.data()) as Float32Array;
        [...t, r, y].forEach((a) => a.dispose());
        return v;
      });
    const [byRow, byMain] = [await run(true), await run(false)];
    expect([...byRow]).toEqual([...byMain]);
    expectClose(byRow, fused.data, 1e-5, 1e-4, 'forward');
    await dev.runtime.withKernelOptions({ convVariant: 'direct' }, () =>
      checkOp({
        inputs: shapes,
        fn: (x, wt, b) => w.conv2d(x!, wt!, b ?? null, o),
        ref: (x, wt, b) => RC.conv2d(x!, wt!, b ?? null, { stride: o.stride, pad: o.padding, dilation: o.dilation }),
        gradOpts: { maxProbes: 8 },
      }),
    );
  });
});
