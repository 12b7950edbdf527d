// The vec4 normalisation kernels (shaders/norm-vec4.wgsl), taken whenever rows are a multiple of 4
// long: batch norm in training and eval mode and group norm on such shapes against the float64
// references and finite differences, and the same values as the scalar kernels (the runtime's normVec4 off).
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as RN from '../reference/norm.js';

const GRAD = { maxProbes: 10 };

describe.each(devices())('vec4 normalisation kernels on %s', (dev) => {
  const cases: { x: [number, number, number, number]; affine: boolean }[] = [
    { x: [2, 3, 2, 2], affine: true },
    { x: [3, 5, 4, 6], affine: false },
    { x: [4, 2, 16, 12], affine: true }, // split reduction over several partials per channel
    { x: [8, 4, 8, 8], affine: true },
  ];

  it.each(cases)('batchNorm2d training mode matches the reference and finite differences: %j', async (c) => {
    const ch = c.x[1];
    await checkOp({
      inputs: c.affine ? [c.x, { shape: [ch], range: [0.5, 1.5] }, [ch]] : [c.x],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt ?? null, b ?? null, { training: true }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt ?? null, b ?? null, { training: true }).y,
      atol: 2e-5,
      gradOpts: GRAD,
    });
  });

  it.each(cases.slice(0, 2))('batchNorm2d eval mode matches the reference: %j', async (c) => {
    const ch = c.x[1];
    const [rmH, rvH] = makeInputs([{ shape: [ch], range: [-0.5, 0.5] }, { shape: [ch], range: [0.5, 2] }], 9);
    const rm = w.fromArray(rmH!.data, [ch]);
    const rv = w.fromArray(rvH!.data, [ch]);
    await checkOp({
      inputs: c.affine ? [c.x, [ch], [ch]] : [c.x],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt ?? null, b ?? null, { runningMean: rm, runningVar: rv, training: false }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt ?? null, b ?? null, { runningMean: [...rmH!.data], runningVar: [...rvH!.data], training: false }).y,
      gradOpts: GRAD,
    });
    rm.dispose();
    rv.dispose();
  });

  it('groupNorm on rows of 4k elements matches the reference and finite differences', async () => {
    await checkOp({
      inputs: [[2, 6, 4, 2], [6], [6]],
      fn: (x, wt, b) => w.groupNorm(x!, 3, wt ?? null, b ?? null),
      ref: (x, wt, b) => RN.groupNorm(x!, 3, wt ?? null, b ?? null),
      atol: 2e-5,
      gradOpts: GRAD,
    });
  });

  it('gives the scalar kernels values, gradients and running statistics, also with |mean| >> std', async () => {
    const shape = [8, 16, 8, 8];
    const [xh, gh] = makeInputs([shape, shape], 5);
    // withKernelOptions restores the default even when a run fails, so no other test sees vec4 off.
    const run = (vec4: boolean) => dev.runtime.withKernelOptions({ normVec4: vec4 }, async () => {
      const x = w.add(w.fromArray(xh!.data, shape), 1000);
      x.requiresGrad = true;
      const wt = w.full([16], 1.5, { requiresGrad: true });
      const b = w.full([16], 0.25, { requiresGrad: true });
      const rm = w.zeros([16]);
      const rv = w.ones([16]);
      const y = w.batchNorm2d(x, wt, b, { runningMean: rm, runningVar: rv, training: true });
      w.backward(y, w.fromArray(gh!.data, shape));
      const out = await Promise.all([y, x.grad!, wt.grad!, b.grad!, rm, rv].map((t) => t.data()));
      for (const t of [x, y, wt, b, rm, rv]) t.dispose();
      return out;
    });
    const [a, s] = [await run(true), await run(false)];
    const names = ['y', 'dx', 'dw', 'db', 'runningMean', 'runningVar'];
    // Inputs near 1000 carry f32 rounding of ~6e-5 relative per element, and the two kernels sum
    // them in different orders: the weight gradient (512 products per channel) differs by ~3e-4.
    a.forEach((v, i) => expectClose(v, s[i]!, 1e-4, names[i] === 'dw' || names[i] === 'dx' ? 2e-3 : 1e-4, names[i]));
    expect(a[0]!.every(Number.isFinite)).toBe(true);
  });
});
