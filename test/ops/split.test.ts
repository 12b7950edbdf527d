/**
 * Ops on tensors larger than one binding. Under vitest.split.config.ts the runtime's binding limit is
 * 64 KiB (WEBMTL_MAX_BINDING), so every case here crosses it: odd sizes, split points that are not
 * multiples of the 256-byte offset alignment, and single samples larger than the limit. Each op is
 * compared with the float64 references and finite differences, as in the op's own suite. In the main
 * run the same cases take the unsplit path and must agree with the same references.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as RC from '../reference/conv.js';
import * as R from '../reference/ndarray.js';

const probes = { maxProbes: 6 };

describe.each(devices())('ops past the binding limit on %s', () => {
  it('the runtime reports the limit it was given', () => {
    const env = process.env.WEBMTL_MAX_BINDING;
    const rt = w.runtime();
    if (env) expect(rt.maxBindingBytes).toBe(Number(env));
    else expect(rt.maxBindingBytes).toBe(rt.limits.maxStorageBufferBindingSize);
  });

  it('unary, binary (same shape and broadcast) and where on odd sizes', async () => {
    await checkOp({ inputs: [[3, 7001]], fn: (x) => w.tanh(x!), ref: (x) => R.map(x, Math.tanh), gradOpts: probes });
    await checkOp({ inputs: [[3, 7001], [3, 7001]], fn: (a, b) => w.mul(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u * v), gradOpts: probes });
    // Broadcast along the leading axis and inside one sample larger than the limit.
    await checkOp({ inputs: [[5, 3, 1501], [3, 1]], fn: (a, b) => w.add(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u + v), gradOpts: probes });
    await checkOp({ inputs: [[1, 5, 4099], [5, 1]], fn: (a, b) => w.sub(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u - v), gradOpts: probes });
    await checkOp({
      inputs: [[2, 9001], [9001], [2, 1]],
      fn: (c, a, b) => w.where(c!, a!, b!),
      ref: (c, a, b) => R.map3(c, a, b, (x, u, v) => (x !== 0 ? u : v)),
      grad: false,
    });
  });

  it('fill and cast', async () => {
    const z = w.full([3, 7001], 2.5);
    const d = await z.data();
    expect(d.length).toBe(21003);
    expect(d.every((v) => v === 2.5)).toBe(true);
    const i = w.cast(w.affine(z, 2), 'i32');
    expect((await i.data()).every((v) => v === 5)).toBe(true);
    z.dispose();
    i.dispose();
  });

  it.each([
    { shape: [6, 4001], axes: [0] },
    { shape: [6, 4001], axes: [1] },
    { shape: [3, 5, 37, 41], axes: [0, 2, 3] },
    { shape: [1, 7, 53, 59], axes: [1] },
    { shape: [2, 3, 4099], axes: [0, 1, 2] },
  ])('sum, mean, max and variance of $shape over $axes', async ({ shape, axes }) => {
    await checkOp({ inputs: [shape], fn: (x) => w.sum(x!, axes), ref: (x) => R.sum(x, axes), gradOpts: probes, atol: 1e-3 });
    await checkOp({ inputs: [shape], fn: (x) => w.mean(x!, axes, true), ref: (x) => R.mean(x, axes, true), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.max(x!, axes), ref: (x) => R.amax(x, axes), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.variance(x!, axes), ref: (x) => R.variance(x, axes, 1), grad: false, atol: 1e-4 });
  });

  it.each([
    // One image (5 x 61 x 67 = 20435 floats) larger than the limit: row tiles with their halo.
    { x: [2, 5, 61, 67], o: 4, k: 3, stride: 1, pad: 1 },
    { x: [1, 3, 75, 77], o: 3, k: 5, stride: 2, pad: 2 },
    // A weight (48 x 40 x 3 x 3 = 17280 floats) larger than the limit: output-channel blocks.
    { x: [3, 40, 9, 9], o: 48, k: 3, stride: 2, pad: 1 },
    // Batch chunks at split points that are not multiples of 256 bytes (2 x 13 x 13 = 338 floats a plane).
    { x: [7, 26, 13, 13], o: 30, k: 3, stride: 1, pad: 1 },
  ])('conv2d forward and both gradients: $x, o $o, k $k, stride $stride', async (c) => {
    const pad = [c.pad, c.pad, c.pad, c.pad] as [number, number, number, number];
    await checkOp({
      inputs: [c.x, [c.o, c.x[1]!, c.k, c.k], [c.o]],
      fn: (x, wt, b) => w.conv2d(x!, wt!, b!, { stride: c.stride, padding: c.pad }),
      ref: (x, wt, b) => RC.conv2d(x!, wt!, b!, { stride: [c.stride, c.stride], pad }),
      gradOpts: probes,
      atol: 1e-4,
    });
  });

  it('conv2d with a fused residual and ReLU over row tiles', async () => {
    await checkOp({
      inputs: [[1, 4, 70, 71], [6, 4, 3, 3], [6], [1, 6, 70, 71]],
      fn: (x, wt, b, r) => w.conv2d(x!, wt!, b!, { padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const y = RC.conv2d(x!, wt!, b!, { pad: [1, 1, 1, 1] });
        return R.map(new R.ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      // Forward only: central differences over ~5000 pixels straddle the ReLU kink (the unsplit run
      // disagrees as much); the gradients of the tiles are checked by the cases above.
      grad: false,
      atol: 1e-4,
    });
  });

  it('convTranspose2d with an output larger than the limit', async () => {
    const o = { stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    await checkOp({
      inputs: [[2, 8, 30, 33], [8, 6, 4, 4], [6]],
      fn: (x, wt, b) => w.convTranspose2d(x!, wt!, b!, o),
      ref: (x, wt, b) => RC.convTranspose2d(x!, wt!, b!, o),
      gradOpts: { maxProbes: 6, atol: 1e-2 },
      atol: 1e-4,
    });
  });
});
