import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr, type FixtureParam } from '../helpers/fixtures.js';
import { ND } from '../reference/ndarray.js';
import * as RP from '../reference/pool.js';

type P2 = [number, number];

interface Case {
  x: [number, number, number, number];
  mode: 'bilinear' | 'nearest';
  size?: P2;
  scaleFactor?: P2;
  alignCorners?: boolean;
  recompute?: boolean;
}

const b = (x: Case['x'], rest: Omit<Case, 'x' | 'mode'>): Case => ({ x, mode: 'bilinear', ...rest });
const n = (x: Case['x'], rest: Omit<Case, 'x' | 'mode'>): Case => ({ x, mode: 'nearest', ...rest });

const cases: Case[] = [
  b([2, 2, 4, 4], { size: [8, 8] }),
  b([2, 2, 4, 4], { size: [8, 8], alignCorners: true }),
  b([1, 3, 5, 7], { size: [9, 4] }),
  b([1, 3, 5, 7], { size: [9, 4], alignCorners: true }),
  b([2, 1, 8, 9], { size: [3, 4] }),
  b([2, 1, 8, 9], { size: [3, 4], alignCorners: true }),
  b([1, 2, 4, 5], { size: [4, 5] }),
  b([1, 2, 5, 6], { size: [1, 3] }),
  b([1, 2, 5, 6], { size: [1, 3], alignCorners: true }),
  b([1, 1, 1, 1], { size: [3, 4] }),
  b([1, 2, 3, 5], { scaleFactor: [2, 2] }),
  b([1, 2, 8, 9], { scaleFactor: [0.5, 0.5] }),
  b([1, 2, 5, 5], { scaleFactor: [1.5, 1.5] }),
  b([1, 2, 5, 5], { scaleFactor: [1.5, 1.5], recompute: true }),
  b([1, 2, 5, 5], { scaleFactor: [1.5, 1.5], alignCorners: true }),
  b([1, 1, 7, 3], { scaleFactor: [0.6, 2.5] }),
  // 5 * 1.1 rounds down to 5: ATen copies for equal sizes whatever the factor.
  b([1, 1, 5, 5], { scaleFactor: [1.1, 1.3] }),
  n([2, 2, 4, 4], { size: [8, 8] }),
  n([1, 2, 5, 7], { size: [9, 4] }),
  n([1, 1, 8, 8], { size: [3, 5] }),
  n([1, 2, 3, 4], { scaleFactor: [2, 2] }),
  n([1, 2, 7, 8], { scaleFactor: [0.5, 0.5] }),
  n([1, 2, 4, 5], { scaleFactor: [1.5, 1.5] }),
  n([1, 1, 3, 3], { scaleFactor: [2, 3] }),
  // float32 scale: floor(d * f32(26/22)) differs from the exact floor(d * 26 / 22) at one column.
  n([1, 1, 2, 26], { size: [3, 22] }),
  // 3 * 2.2 -> 6 = 2 * 3: ATen halves the index there instead of using 1 / 2.2.
  n([1, 1, 3, 5], { scaleFactor: [2.2, 2.2] }),
];

function randomCases(count: number, seed: number): Case[] {
  const g = new w.Generator(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(g.next() * (hi - lo + 1));
  const out: Case[] = [];
  while (out.length < count) {
    const x: Case['x'] = [int(1, 2), int(1, 3), int(1, 9), int(1, 9)];
    const mode = g.next() < 0.5 ? 'bilinear' : 'nearest';
    const c: Case = { x, mode, alignCorners: mode === 'bilinear' && g.next() < 0.5 ? true : undefined };
    if (g.next() < 0.5) c.size = [int(1, 13), int(1, 13)];
    else {
      c.scaleFactor = [int(3, 30) / 10, int(3, 30) / 10];
      if (Math.floor(x[2] * c.scaleFactor[0]) < 1 || Math.floor(x[3] * c.scaleFactor[1]) < 1) continue;
    }
    out.push(c);
  }
  return out;
}

const opts = (c: Case): w.InterpolateOptions => ({
  mode: c.mode,
  size: c.size,
  scaleFactor: c.scaleFactor,
  alignCorners: c.alignCorners,
  recomputeScaleFactor: c.recompute,
});
const size = (s: readonly number[]) => s.reduce((a, c) => a * c, 1);

describe.each(devices())('interpolate on %s', () => {
  it.each([...cases, ...randomCases(12, 31)])('matches the reference and its gradient: %j', async (c) => {
    const x = ND.from(new w.Generator(2).uniform(size(c.x), -2, 2), c.x);
    const gen = new w.Generator(3);
    const [y, gx, gyT] = w.tidy(() => {
      const xt = w.fromArray(x.data, x.shape, { requiresGrad: true });
      const out = w.interpolate(xt, opts(c));
      const gyT = w.fromArray(gen.uniform(out.size, -1, 1), out.shape);
      return [out, w.grad(out, [xt], { gradOutputs: [gyT] })[0]!, gyT];
    });
    const want = RP.interpolate(x, c);
    expect([...y.shape]).toEqual(want.shape);
    expectClose(await y.data(), want.data, 1e-6, 1e-5, 'forward');
    const gy = ND.from(await gyT.data(), [...gyT.shape]);
    expectClose(await gx.data(), RP.interpolateGrad(c.x, c, gy).data, 1e-5, 1e-5, 'grad');
    [y, gx, gyT].forEach((t) => t.dispose());
  });

  it.each(cases.filter((_, i) => i % 3 === 0))('gradient matches finite differences: %j', async (c) => {
    await checkOp({ inputs: [c.x], fn: (x) => w.interpolate(x!, opts(c)), ref: (x) => RP.interpolate(x!, c), gradOpts: { maxProbes: 10 } });
  });

  it('accepts one number for size and scaleFactor', async () => {
    const x = w.fromArray([1, 2, 3, 4], [1, 1, 2, 2]);
    expect([...w.interpolate(x, { size: 3, mode: 'bilinear' }).shape]).toEqual([1, 1, 3, 3]);
    const y = w.interpolate(x, { scaleFactor: 2, mode: 'nearest' });
    expect(await y.toArray()).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it('rejects bad input and options with typed errors naming the op and shape', () => {
    const x = w.zeros([1, 2, 4, 4]);
    expect(() => w.interpolate(w.zeros([2, 4, 4]), { size: [2, 2], mode: 'bilinear' })).toThrow(/interpolate: input must be NCHW.*\[2,4,4\]/);
    expect(() => w.interpolate(x, { size: [2, 2], scaleFactor: 2, mode: 'bilinear' })).toThrow(w.ArgumentError);
    expect(() => w.interpolate(x, { mode: 'bilinear' })).toThrow(/exactly one of size and scaleFactor/);
    expect(() => w.interpolate(x, { size: [0, 2], mode: 'nearest' })).toThrow(w.ArgumentError);
    expect(() => w.interpolate(x, { size: [2.5, 2], mode: 'nearest' })).toThrow(w.ArgumentError);
    expect(() => w.interpolate(x, { scaleFactor: -1, mode: 'nearest' })).toThrow(w.ArgumentError);
    expect(() => w.interpolate(x, { scaleFactor: 0.2, mode: 'nearest' })).toThrow(/interpolate: scaleFactor \[0.2,0.2\] gives an empty output 0x0 \(shapes \[1,2,4,4\]\)/);
    expect(() => w.interpolate(x, { scaleFactor: 0.2, mode: 'nearest' })).toThrow(w.ShapeError);
    expect(() => w.interpolate(x, { size: [2, 2], mode: 'nearest', alignCorners: true })).toThrow(/alignCorners/);
    expect(() => w.interpolate(x, { size: [2, 2], mode: 'bicubic' as 'bilinear' })).toThrow(w.ArgumentError);
    expect(() => w.interpolate(w.zeros([1, 1, 0, 3]), { size: [2, 2], mode: 'bilinear' })).toThrow(w.ShapeError);
    x.dispose();
  });
});

describe.each(devices())('interpolate vs PyTorch fixtures on %s', () => {
  const pair = (v: FixtureParam | undefined): P2 | undefined =>
    v === null || v === undefined ? undefined : typeof v === 'number' ? [v, v] : [(v as number[])[0]!, (v as number[])[1]!];
  it.each(loadFixtures('interpolate').map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const p = c.params;
    const xin = c.inputs.x!;
    const [y, gx] = w.tidy(() => {
      const x = w.fromArray(xin.data, xin.shape, { requiresGrad: true });
      const out = w.interpolate(x, {
        mode: p.mode as 'bilinear' | 'nearest',
        size: pair(p.size),
        scaleFactor: pair(p.scale_factor),
        alignCorners: typeof p.align_corners === 'boolean' ? p.align_corners : undefined,
        recomputeScaleFactor: p.recompute_scale_factor === true,
      });
      const gy = w.fromArray(c.grad_output.data, c.grad_output.shape);
      return [out, w.grad(out, [x], { gradOutputs: [gy] })[0]!];
    });
    expect([...y.shape]).toEqual(c.output.shape);
    expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
    expect(relErr(await gx.data(), c.grads.x!.data), 'grad x').toBeLessThan(FIXTURE_TOLERANCE);
    [y, gx].forEach((t) => t.dispose());
  });
});
