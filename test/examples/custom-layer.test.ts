/**
 * The custom-layer example (examples/custom-layer/): its WGSL kernels against float64 references
 * on odd sizes, its WGSL backward rules against finite differences, the kernels against the
 * composed version, and a short training run through the layer whose losses fall.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { localDot, localMix, localMixComposed } from '../../examples/custom-layer/local-affinity.js';
import { trainCustomLayer } from '../../examples/custom-layer/train.js';
import { devices } from '../helpers/devices.js';

/** Window offsets in the kernels' order: j = (dy + r) * (2r + 1) + (dx + r). */
const offsets = (r: number) => Array.from({ length: (2 * r + 1) ** 2 }, (_, j) => [Math.floor(j / (2 * r + 1)) - r, (j % (2 * r + 1)) - r] as const);

function refDot(a: Float32Array, b: Float32Array, [n, c, h, wd]: number[], r: number, scale: number): Float64Array {
  const o = offsets(r);
  const s = new Float64Array(n! * o.length * h! * wd!);
  for (let i = 0; i < n!; i++)
    o.forEach(([dy, dx], j) => {
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < wd!; x++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= h! || xx >= wd!) continue;
          let acc = 0;
          for (let k = 0; k < c!; k++) acc += a[((i * c! + k) * h! + y) * wd! + x]! * b[((i * c! + k) * h! + yy) * wd! + xx]!;
          s[((i * o.length + j) * h! + y) * wd! + x] = acc * scale;
        }
    });
  return s;
}

function refMix(wt: Float32Array, xv: Float32Array, [n, c, h, wd]: number[], r: number): Float64Array {
  const o = offsets(r);
  const y = new Float64Array(n! * c! * h! * wd!);
  for (let i = 0; i < n!; i++)
    for (let k = 0; k < c!; k++)
      for (let py = 0; py < h!; py++)
        for (let px = 0; px < wd!; px++) {
          let acc = 0;
          o.forEach(([dy, dx], j) => {
            const yy = py + dy, xx = px + dx;
            if (yy >= 0 && xx >= 0 && yy < h! && xx < wd!) acc += wt[((i * o.length + j) * h! + py) * wd! + px]! * xv[((i * c! + k) * h! + yy) * wd! + xx]!;
          });
          y[((i * c! + k) * h! + py) * wd! + px] = acc;
        }
  return y;
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
};

describe.each(devices())('custom-layer example on %s', () => {
  it.each([1, 2])('localDot and localMix match float64 references (radius %i, odd sizes)', async (r) => {
    const shape = [2, 3, 5, 7];
    const k = (2 * r + 1) ** 2;
    const a = w.randn(shape, { seed: 1 });
    const b = w.randn(shape, { seed: 2 });
    const wt = w.randn([2, k, 5, 7], { seed: 3 });
    const [ha, hb, hw] = [await a.data(), await b.data(), await wt.data()] as Float32Array[];
    const s = localDot(a, b, r, 0.5);
    close(await s.data(), refDot(ha!, hb!, shape, r, 0.5));
    const y = localMix(wt, a, r);
    close(await y.data(), refMix(hw!, ha!, shape, r));
    const yc = localMixComposed(wt, a, r);
    close(await yc.data(), refMix(hw!, ha!, shape, r));
    for (const t of [a, b, wt, s, y, yc]) t.dispose();
  });

  it('their WGSL backward rules pass gradcheck in every input', async () => {
    const g = new w.Generator(5);
    const feat = { data: g.normal(1 * 2 * 4 * 5), shape: [1, 2, 4, 5] };
    const wts = { data: g.normal(1 * 9 * 4 * 5), shape: [1, 9, 4, 5] };
    expect(await w.gradcheck((a, b) => localDot(a!, b!, 1, 0.7), [feat, { data: g.normal(40), shape: [1, 2, 4, 5] }])).toEqual([]);
    expect(await w.gradcheck((a) => localDot(a!, a!, 1, 0.7), [feat])).toEqual([]);
    expect(await w.gradcheck((a, b) => localMix(a!, b!, 1), [wts, feat])).toEqual([]);
  });

  it('trains through the layer: the losses fall', async () => {
    const run = await trainCustomLayer({ epochs: 1, size: 32, samples: 48 });
    const first = run.losses.slice(0, 2);
    const last = run.losses.slice(-2);
    const sum = (xs: typeof first) => xs.reduce((s, l) => s + l.semseg + l.depth, 0);
    expect(run.losses.length).toBe(6);
    expect(sum(last)).toBeLessThan(sum(first) * 0.9);
    expect(run.gamma.every(Number.isFinite)).toBe(true);
  });
});
