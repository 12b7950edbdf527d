import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';

/** The values of a tensor, which is then disposed. */
async function take(t: w.Tensor): Promise<number[]> {
  const v = await t.toArray();
  t.dispose();
  return v;
}

/** 0, 1, 2, ... as an f32 tensor of `shape` (distinct values make layout bugs visible). */
const iota = (shape: number[]) => w.fromArray(Array.from({ length: R.size(shape) }, (_, i) => i), shape);
const iotaND = (shape: number[]) => R.ND.from(Array.from({ length: R.size(shape) }, (_, i) => i), shape);

/** A seeded random permutation of 0..n-1 (Fisher-Yates). */
function randomPerm(n: number, g: w.Generator): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(g.next() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

describe.each(devices())('layout ops on %s', () => {
  describe('reshape', () => {
    it('with -1, forward and gradient', async () => {
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.reshape(x, [4, -1]), ref: (x) => R.reshape(x, [4, 6]) });
      await checkOp({ inputs: [[6]], fn: (x) => w.reshape(x, [1, -1, 1, 3]), ref: (x) => R.reshape(x, [1, 2, 1, 3]) });
    });

    it('to and from a scalar, and of empty tensors', async () => {
      const x = w.fromArray([5], [1, 1]);
      const s = w.reshape(x, []);
      expect([...s.shape]).toEqual([]);
      expect(await s.item()).toBe(5);
      const e = w.zeros([0, 3]);
      const r = w.reshape(e, [-1, 3]);
      expect([...r.shape]).toEqual([0, 3]);
      const r2 = w.reshape(e, [3, 0, 5]);
      expect([...r2.shape]).toEqual([3, 0, 5]);
      for (const t of [x, s, e, r, r2]) t.dispose();
    });

    it('shares memory: the original stays valid after the reshaped handle is disposed', async () => {
      const x = iota([2, 3]);
      const y = w.reshape(x, [3, 2]);
      y.dispose();
      expect(await take(x)).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it('errors', () => {
      const x = w.zeros([2, 3]);
      expect(() => w.reshape(x, [4])).toThrow(w.ShapeError);
      expect(() => w.reshape(x, [4])).toThrow(/reshape/);
      expect(() => w.reshape(x, [-1, -1])).toThrow(w.ShapeError);
      expect(() => w.reshape(x, [4, -1])).toThrow(w.ShapeError);
      expect(() => w.reshape(x, [0, -1])).toThrow(w.ShapeError);
      expect(() => w.reshape(x, [-2, -3])).toThrow(w.ShapeError);
      expect(() => w.reshape(x, [1.5, 4])).toThrow(w.ShapeError);
      x.dispose();
    });
  });

  describe('flatten, squeeze, unsqueeze', () => {
    it('flatten', async () => {
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.flatten(x), ref: (x) => R.reshape(x, [24]) });
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.flatten(x, 1), ref: (x) => R.reshape(x, [2, 12]), grad: false });
      await checkOp({ inputs: [[2, 3, 4, 5]], fn: (x) => w.flatten(x, 1, 2), ref: (x) => R.reshape(x, [2, 12, 5]), grad: false });
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.flatten(x, -2, -1), ref: (x) => R.reshape(x, [2, 12]), grad: false });
      const s = w.scalar(3);
      const f = w.flatten(s);
      expect([...f.shape]).toEqual([1]);
      expect(await take(f)).toEqual([3]);
      s.dispose();
    });

    it('flatten with start after end, or an axis out of range, is an error', () => {
      const x = w.zeros([2, 3, 4]);
      expect(() => w.flatten(x, 2, 0)).toThrow(w.ArgumentError);
      expect(() => w.flatten(x, 0, 3)).toThrow(w.AxisError);
      x.dispose();
    });

    it('squeeze all, squeeze one axis, and a non-1 axis is left alone', async () => {
      await checkOp({ inputs: [[1, 3, 1, 2, 1]], fn: (x) => w.squeeze(x), ref: (x) => R.reshape(x, [3, 2]) });
      await checkOp({ inputs: [[1, 3, 1, 2]], fn: (x) => w.squeeze(x, 2), ref: (x) => R.reshape(x, [1, 3, 2]), grad: false });
      await checkOp({ inputs: [[1, 3, 1, 2]], fn: (x) => w.squeeze(x, -4), ref: (x) => R.reshape(x, [3, 1, 2]), grad: false });
      await checkOp({ inputs: [[1, 3, 1, 2]], fn: (x) => w.squeeze(x, 1), ref: (x) => x, grad: false });
      const x = w.zeros([1, 1]);
      expect(() => w.squeeze(x, 2)).toThrow(w.AxisError);
      const all = w.squeeze(x);
      expect([...all.shape]).toEqual([]);
      all.dispose();
      x.dispose();
    });

    it('unsqueeze at the front, middle, end and with negative axes', async () => {
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.unsqueeze(x, 0), ref: (x) => R.reshape(x, [1, 2, 3]) });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.unsqueeze(x, 1), ref: (x) => R.reshape(x, [2, 1, 3]), grad: false });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.unsqueeze(x, 2), ref: (x) => R.reshape(x, [2, 3, 1]), grad: false });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.unsqueeze(x, -1), ref: (x) => R.reshape(x, [2, 3, 1]), grad: false });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.unsqueeze(x, -3), ref: (x) => R.reshape(x, [1, 2, 3]), grad: false });
      const x = w.zeros([2, 3]);
      expect(() => w.unsqueeze(x, 3)).toThrow(w.AxisError);
      expect(() => w.unsqueeze(x, -4)).toThrow(w.AxisError);
      x.dispose();
    });
  });

  describe('permute and transpose', () => {
    const g = new w.Generator(2024);
    const shapes = [[7], [3, 5], [2, 3, 4], [2, 3, 1, 4], [2, 1, 3, 2, 3]];
    for (const shape of shapes) {
      const perms = new Set<string>();
      for (let tries = 0; tries < 20 && perms.size < 3; tries++) perms.add(randomPerm(shape.length, g).join(','));
      [...perms].forEach((key, trial) => {
        const perm = key.split(',').map(Number);
        it(`permute [${shape}] by [${perm}]`, async () => {
          await checkOp({
            inputs: [shape],
            fn: (x) => w.permute(x, perm),
            ref: (x) => R.permute(x, perm),
            // Gradients once per rank keep the file fast.
            grad: trial === 0,
          });
        });
      });
    }

    it('permute with negative axes, on i32, and of a scalar', async () => {
      const x = iota([2, 3, 4]);
      expectClose(await take(w.permute(x, [-1, 0, -2])), R.permute(iotaND([2, 3, 4]), [2, 0, 1]).data, 0, 0);
      x.dispose();
      const xi = w.fromArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const yi = w.permute(xi, [1, 0]);
      expect(yi.dtype).toBe('i32');
      expect(await take(yi)).toEqual([1, 4, 2, 5, 3, 6]);
      xi.dispose();
      const s = w.scalar(2);
      expect(await take(w.permute(s, []))).toEqual([2]);
      s.dispose();
    });

    it('a large permute spanning more than 65535 workgroups', async () => {
      const shape = [64, 70000];
      const x = w.rand(shape, { seed: 4 });
      const host = R.ND.from(await x.data(), shape);
      const y = w.permute(x, [1, 0]);
      expectClose(await take(y), R.permute(host, [1, 0]).data, 0, 0);
      x.dispose();
    });

    it('rank 8 is the largest supported; rank 9 is a clear error', async () => {
      const shape = [2, 1, 2, 1, 2, 1, 2, 2];
      const perm = [7, 0, 6, 1, 5, 2, 4, 3];
      const x = iota(shape);
      expectClose(await take(w.permute(x, perm)), R.permute(iotaND(shape), perm).data, 0, 0);
      expectClose(await take(w.slice(x, [null, null, [1]])), R.slice(iotaND(shape), [null, null, [1]]).data, 0, 0);
      x.dispose();
      const y = w.zeros([1, 1, 1, 1, 1, 1, 1, 1, 2]);
      expect(() => w.permute(y, [8, 0, 1, 2, 3, 4, 5, 6, 7])).toThrow(w.WebmtlError);
      y.dispose();
    });

    it('permute errors', () => {
      const x = w.zeros([2, 3, 4]);
      expect(() => w.permute(x, [0, 1])).toThrow(w.ShapeError);
      expect(() => w.permute(x, [0, 1, 1])).toThrow(w.ArgumentError);
      expect(() => w.permute(x, [0, 1, -1 - 3])).toThrow(w.AxisError);
      expect(() => w.permute(x, [0, 1, 3])).toThrow(w.AxisError);
      x.dispose();
    });

    it('transpose: default last two dims, chosen dims, gradients', async () => {
      await checkOp({ inputs: [[3, 4]], fn: (x) => w.transpose(x), ref: (x) => R.permute(x, [1, 0]) });
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.transpose(x), ref: (x) => R.permute(x, [0, 2, 1]), grad: false });
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.transpose(x, 0, 2), ref: (x) => R.permute(x, [2, 1, 0]) });
      await checkOp({ inputs: [[2, 3, 4]], fn: (x) => w.transpose(x, 1, 1), ref: (x) => x, grad: false });
    });
  });

  describe('expand', () => {
    it('stretches size-1 dims; gradient sums them back', async () => {
      await checkOp({ inputs: [[3, 1]], fn: (x) => w.expand(x, [3, 4]), ref: (x) => R.broadcastTo(x, [3, 4]) });
      await checkOp({ inputs: [[1, 3, 1]], fn: (x) => w.expand(x, [2, 3, 5]), ref: (x) => R.broadcastTo(x, [2, 3, 5]) });
    });

    it('adds leading dims; -1 keeps a dim', async () => {
      await checkOp({ inputs: [[3]], fn: (x) => w.expand(x, [2, 4, 3]), ref: (x) => R.broadcastTo(x, [2, 4, 3]) });
      await checkOp({ inputs: [[1, 3]], fn: (x) => w.expand(x, [2, -1, -1]), ref: (x) => R.broadcastTo(x, [2, 1, 3]) });
      await checkOp({ inputs: [[2, 1]], fn: (x) => w.expand(x, [3, -1, 4]), ref: (x) => R.broadcastTo(x, [3, 2, 4]) });
      await checkOp({ inputs: [[]], fn: (x) => w.expand(x, [2, 3]), ref: (x) => R.broadcastTo(x, [2, 3]) });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.expand(x, [2, 3]), ref: (x) => x });
    });

    it('to a size-0 dim, and on i32', async () => {
      const x = w.zeros([1, 3]);
      const y = w.expand(x, [0, 3]);
      expect([...y.shape]).toEqual([0, 3]);
      y.dispose();
      x.dispose();
      const xi = w.fromArray(new Int32Array([7, -8]), [2, 1]);
      const yi = w.expand(xi, [2, 3]);
      expect(yi.dtype).toBe('i32');
      expect(await take(yi)).toEqual([7, 7, 7, -8, -8, -8]);
      xi.dispose();
    });

    it('errors name expand', () => {
      const x = w.zeros([2, 3]);
      const before = w.runtime().memory().live;
      for (const bad of [[4, 3], [3], [2, 4], [-1, 2, 3], [2, 3, -1], [-2, 3]]) {
        expect(() => w.expand(x, bad), `[${bad}]`).toThrow(w.ShapeError);
        expect(() => w.expand(x, bad), `[${bad}]`).toThrow(/^expand/);
      }
      expect(w.runtime().memory().live).toBe(before);
      x.dispose();
    });
  });

  describe('slice and narrow', () => {
    it('start:end on each dim, missing trailing ranges keep the dim', async () => {
      await checkOp({ inputs: [[5, 6]], fn: (x) => w.slice(x, [[1, 4], [2, 5]]), ref: (x) => R.slice(x, [[1, 4], [2, 5]]) });
      await checkOp({ inputs: [[4, 3, 2]], fn: (x) => w.slice(x, [[1, 3]]), ref: (x) => R.slice(x, [[1, 3]]) });
      await checkOp({ inputs: [[4, 3, 2]], fn: (x) => w.slice(x, [null, [1]]), ref: (x) => R.slice(x, [null, [1]]) });
    });

    it('negative indices', async () => {
      await checkOp({ inputs: [[5, 6]], fn: (x) => w.slice(x, [[-3], [-5, -1]]), ref: (x) => R.slice(x, [[-3], [-5, -1]]) });
      await checkOp({ inputs: [[7]], fn: (x) => w.slice(x, [[-100, 100]]), ref: (x) => R.slice(x, [[-100, 100]]), grad: false });
      await checkOp({ inputs: [[7]], fn: (x) => w.slice(x, [[2, -2]]), ref: (x) => R.slice(x, [[2, -2]]), grad: false });
    });

    it('steps', async () => {
      await checkOp({ inputs: [[9]], fn: (x) => w.slice(x, [[0, undefined, 2]]), ref: (x) => R.slice(x, [[0, undefined, 2]]) });
      await checkOp({ inputs: [[8, 7]], fn: (x) => w.slice(x, [[1, 8, 3], [-6, undefined, 4]]), ref: (x) => R.slice(x, [[1, 8, 3], [-6, undefined, 4]]) });
      await checkOp({ inputs: [[3, 4, 5]], fn: (x) => w.slice(x, [[0, 3, 2], null, [4, 0, 1]]), ref: (x) => R.slice(x, [[0, 3, 2], null, [4, 0, 1]]), grad: false });
      await checkOp({ inputs: [[10]], fn: (x) => w.slice(x, [[3, 9, 100]]), ref: (x) => R.slice(x, [[3, 9, 100]]), grad: false });
    });

    it('empty results, and their gradient is all zeros', async () => {
      for (const r of [[3, 1], [5, 5], [10, 20], [-1, -2]] as const) {
        const x = w.zeros([5, 2]);
        const y = w.slice(x, [r]);
        expect([...y.shape], `[${r}]`).toEqual([0, 2]);
        y.dispose();
        x.dispose();
      }
      const x = w.requireGrad(w.rand([4, 3], { seed: 1 }));
      const y = w.slice(x, [[2, 2]]);
      const gy = w.zeros([0, 3]);
      const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
      expect([...gx!.shape]).toEqual([4, 3]);
      expect(await take(gx!)).toEqual(new Array(12).fill(0));
      for (const t of [x, y, gy]) t.dispose();
    });

    it('gradient of a strided slice scatters into zeros', async () => {
      const x = w.requireGrad(w.zeros([3, 5]));
      const y = w.slice(x, [[1], [0, undefined, 2]]);
      expect([...y.shape]).toEqual([2, 3]);
      const gy = w.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      const [gx] = w.grad(y, [x], { gradOutputs: [gy] });
      expect(await take(gx!)).toEqual([0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 4, 0, 5, 0, 6]);
      for (const t of [x, y, gy]) t.dispose();
    });

    it('slice errors', () => {
      const x = w.zeros([3, 4]);
      expect(() => w.slice(x, [null, null, null])).toThrow(w.ShapeError);
      expect(() => w.slice(x, [[0, 2, 0]])).toThrow(w.ArgumentError);
      expect(() => w.slice(x, [[0, 2, -1]])).toThrow(w.ArgumentError);
      expect(() => w.slice(x, [[0, 2, 1.5]])).toThrow(w.ArgumentError);
      x.dispose();
    });

    it('narrow', async () => {
      await checkOp({ inputs: [[4, 6]], fn: (x) => w.narrow(x, 1, 2, 3), ref: (x) => R.slice(x, [null, [2, 5]]) });
      await checkOp({ inputs: [[4, 6]], fn: (x) => w.narrow(x, -2, -3, 2), ref: (x) => R.slice(x, [[1, 3]]), grad: false });
      await checkOp({ inputs: [[4, 6]], fn: (x) => w.narrow(x, 0, 4, 0), ref: (x) => R.slice(x, [[4, 4]]), grad: false });
      const x = w.zeros([4, 6]);
      expect(() => w.narrow(x, 0, 2, 3)).toThrow(w.ShapeError);
      expect(() => w.narrow(x, 1, -7, 1)).toThrow(w.ShapeError);
      expect(() => w.narrow(x, 1, 0, -1)).toThrow(w.ShapeError);
      expect(() => w.narrow(x, 2, 0, 1)).toThrow(w.AxisError);
      x.dispose();
    });
  });

  describe('pad', () => {
    it('F.pad order: the last dim first', async () => {
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.pad(x, [1, 2]), ref: (x) => R.pad(x, [1, 2]) });
      await checkOp({ inputs: [[2, 3]], fn: (x) => w.pad(x, [1, 2, 3, 0]), ref: (x) => R.pad(x, [1, 2, 3, 0]) });
      await checkOp({ inputs: [[2, 2, 3]], fn: (x) => w.pad(x, [0, 0, 0, 1, 2, 1]), ref: (x) => R.pad(x, [0, 0, 0, 1, 2, 1]) });
    });

    it('explicit layout of a small case', async () => {
      const x = w.fromArray([1, 2, 3, 4], [2, 2]);
      // left 1, right 0 on columns; top 0, bottom 1 on rows.
      expect(await take(w.pad(x, [1, 0, 0, 1], 9))).toEqual([9, 1, 2, 9, 3, 4, 9, 9, 9]);
      x.dispose();
    });

    it('negative amounts crop, also mixed with padding', async () => {
      await checkOp({ inputs: [[4, 5]], fn: (x) => w.pad(x, [-1, 0, 0, -2]), ref: (x) => R.pad(x, [-1, 0, 0, -2]) });
      await checkOp({ inputs: [[4, 5]], fn: (x) => w.pad(x, [-2, 1, 2, -1]), ref: (x) => R.pad(x, [-2, 1, 2, -1]) });
      await checkOp({ inputs: [[4, 5]], fn: (x) => w.pad(x, [-5, 0]), ref: (x) => R.pad(x, [-5, 0]), grad: false });
    });

    it('fill value, f32 and i32', async () => {
      await checkOp({ inputs: [[2, 2]], fn: (x) => w.pad(x, [1, 1, 1, 1], -1.5), ref: (x) => R.pad(x, [1, 1, 1, 1], -1.5) });
      const xi = w.fromArray(new Int32Array([1, 2, 3]), [3]);
      const yi = w.pad(xi, [2, 1], -7);
      expect(yi.dtype).toBe('i32');
      expect(await take(yi)).toEqual([-7, -7, 1, 2, 3, -7]);
      xi.dispose();
    });

    it('errors', () => {
      const x = w.zeros([2, 3]);
      expect(() => w.pad(x, [1])).toThrow(w.ArgumentError);
      expect(() => w.pad(x, [1, 1, 1, 1, 1, 1])).toThrow(w.ArgumentError);
      expect(() => w.pad(x, [-2, -2])).toThrow(w.ShapeError);
      expect(() => w.pad(x, [0.5, 1])).toThrow(w.ArgumentError);
      const xi = w.zeros([2], { dtype: 'i32' });
      expect(() => w.pad(xi, [1, 1], 0.5)).toThrow(w.DTypeError);
      xi.dispose();
      x.dispose();
    });
  });

  describe('concat and stack', () => {
    it('along any axis with different sizes, gradients to every input', async () => {
      await checkOp({ inputs: [[2, 3], [4, 3]], fn: (a, b) => w.concat([a, b], 0), ref: (a, b) => R.concat([a, b], 0) });
      await checkOp({ inputs: [[2, 3], [2, 1], [2, 4]], fn: (a, b, c) => w.concat([a, b, c], 1), ref: (a, b, c) => R.concat([a, b, c], 1) });
      await checkOp({ inputs: [[2, 3, 2], [2, 3, 1]], fn: (a, b) => w.concat([a, b], -1), ref: (a, b) => R.concat([a, b], -1) });
      await checkOp({ inputs: [[2, 1, 2], [2, 3, 2]], fn: (a, b) => w.concat([a, b], 1), ref: (a, b) => R.concat([a, b], 1) });
    });

    it('one input, an empty input, the same tensor twice, i32', async () => {
      await checkOp({ inputs: [[3, 2]], fn: (a) => w.concat([a], 1), ref: (a) => R.concat([a], 1) });
      await checkOp({ inputs: [[2, 0], [2, 3]], fn: (a, b) => w.concat([a, b], 1), ref: (a, b) => R.concat([a, b], 1) });
      await checkOp({ inputs: [[2, 3]], fn: (a) => w.concat([a, a], 0), ref: (a) => R.concat([a, a], 0) });
      const a = w.fromArray(new Int32Array([1, 2]), [1, 2]);
      const b = w.fromArray(new Int32Array([3, 4, 5, 6]), [2, 2]);
      const c = w.concat([a, b]);
      expect(c.dtype).toBe('i32');
      expect(await take(c)).toEqual([1, 2, 3, 4, 5, 6]);
      a.dispose();
      b.dispose();
    });

    it('concat errors', () => {
      const a = w.zeros([2, 3]);
      const b = w.zeros([3, 2]);
      const c = w.zeros([2, 3], { dtype: 'i32' });
      const d = w.zeros([2, 3, 1]);
      expect(() => w.concat([a, b], 0)).toThrow(w.ShapeError);
      expect(() => w.concat([a, c], 0)).toThrow(w.ShapeError);
      expect(() => w.concat([a, d], 0)).toThrow(w.ShapeError);
      expect(() => w.concat([], 0)).toThrow(w.ArgumentError);
      expect(() => w.concat([a, a], 2)).toThrow(w.AxisError);
      for (const t of [a, b, c, d]) t.dispose();
    });

    it('stack along a new axis', async () => {
      await checkOp({ inputs: [[2, 3], [2, 3]], fn: (a, b) => w.stack([a, b]), ref: (a, b) => R.stack([a, b], 0) });
      await checkOp({ inputs: [[2, 3], [2, 3], [2, 3]], fn: (a, b, c) => w.stack([a, b, c], 1), ref: (a, b, c) => R.stack([a, b, c], 1) });
      await checkOp({ inputs: [[2, 3], [2, 3]], fn: (a, b) => w.stack([a, b], -1), ref: (a, b) => R.stack([a, b], 2) });
      await checkOp({ inputs: [[], []], fn: (a, b) => w.stack([a, b]), ref: (a, b) => R.stack([a, b], 0), grad: false });
      const a = w.zeros([2, 3]);
      const b = w.zeros([3, 2]);
      expect(() => w.stack([a, b])).toThrow(w.ShapeError);
      expect(() => w.stack([a], 3)).toThrow(w.AxisError);
      expect(() => w.stack([])).toThrow(w.ArgumentError);
      a.dispose();
      b.dispose();
    });

    it('stack without gradients leaves no temporaries behind', async () => {
      const a = w.zeros([2, 3]);
      const b = w.ones([2, 3]);
      const before = w.runtime().memory().live;
      const s = w.stack([a, b], 1);
      expect(w.runtime().memory().live).toBe(before + 1);
      expect(await take(s)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
      a.dispose();
      b.dispose();
    });
  });

  describe('clone and cast', () => {
    it('clone copies (independent memory) and passes the gradient', async () => {
      await checkOp({ inputs: [[3, 5]], fn: (x) => w.clone(x), ref: (x) => x });
      const x = w.fromArray([1, 2, 3]);
      const y = w.clone(x);
      x.dispose();
      expect(await take(y)).toEqual([1, 2, 3]);
      const xi = w.fromArray(new Int32Array([4, 5]));
      const yi = w.clone(xi);
      expect(yi.dtype).toBe('i32');
      expect(await take(yi)).toEqual([4, 5]);
      xi.dispose();
      const e = w.zeros([0]);
      expect(await take(w.clone(e))).toEqual([]);
      e.dispose();
    });

    it('f32 -> i32 truncates toward zero', async () => {
      const src = [-2.7, -2.5, -1.0, -0.5, -0.0, 0.4, 0.5, 0.99, 1.5, 2.5, 3, 123456.9, -123456.9];
      const x = w.fromArray(src);
      const y = w.cast(x, 'i32');
      expect(y.dtype).toBe('i32');
      expect(await take(y)).toEqual(src.map((v) => Math.trunc(v) + 0));
      x.dispose();
    });

    it('i32 -> f32 rounds to the nearest f32', async () => {
      const src = [-5, 0, 7, 16777217, -2147483648, 2147483647];
      const x = w.fromArray(new Int32Array(src));
      const y = w.cast(x, 'f32');
      expect(y.dtype).toBe('f32');
      expect(await take(y)).toEqual([...Float32Array.from(src)]);
      x.dispose();
    });

    it('same dtype copies; shapes are kept; odd sizes and empty tensors', async () => {
      for (const n of [0, 1, 3, 5, 130]) {
        const x = w.fromArray(Array.from({ length: n }, (_, i) => i - 2.5), [n]);
        const y = w.cast(w.cast(x, 'i32'), 'f32');
        expect(await take(y)).toEqual(Array.from({ length: n }, (_, i) => Math.trunc(i - 2.5) + 0));
        const z = w.cast(x, 'f32');
        x.dispose();
        expect(await take(z)).toEqual([...Float32Array.from({ length: n }, (_, i) => i - 2.5)]);
      }
      const m = w.zeros([2, 3]);
      const c = w.cast(m, 'i32');
      expect([...c.shape]).toEqual([2, 3]);
      c.dispose();
      m.dispose();
    });

    it('cast records no gradient', () => {
      const x = w.requireGrad(w.zeros([2]));
      const y = w.cast(x, 'i32');
      expect(y.requiresGrad).toBe(false);
      expect(y.gradFn).toBeNull();
      x.dispose();
      y.dispose();
    });
  });

  it('a chain of layout ops: forward and gradient', async () => {
    await checkOp({
      inputs: [[2, 3, 4]],
      fn: (x) => w.concat([w.pad(w.slice(w.permute(x, [2, 0, 1]), [[1], null, [0, 3, 2]]), [1, 0]), w.expand(w.slice(x, [[0, 1], [0, 2], [0, 1]]), [3, 2, 5])], 2),
      ref: (x) =>
        R.concat([R.pad(R.slice(R.permute(x, [2, 0, 1]), [[1], null, [0, 3, 2]]), [1, 0]), R.broadcastTo(R.slice(x, [[0, 1], [0, 2], [0, 1]]), [3, 2, 5])], 2),
    });
  });
});
