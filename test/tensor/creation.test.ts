import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';

/** Live buffer count of the shared runtime (to prove that failed calls leak nothing). */
const live = () => w.runtime().memory().live;

/** The values of a tensor, which is then disposed. */
async function take(t: w.Tensor): Promise<number[]> {
  const v = await t.toArray();
  t.dispose();
  return v;
}

describe.each(devices())('tensor creation on %s', () => {
  describe('fromArray', () => {
    it('f32 from a plain array, default 1-D shape', async () => {
      const t = w.fromArray([1.5, -2, 3.25]);
      expect(t.dtype).toBe('f32');
      expect([...t.shape]).toEqual([3]);
      const d = await t.data();
      expect(d).toBeInstanceOf(Float32Array);
      expect([...d]).toEqual([1.5, -2, 3.25]);
      t.dispose();
    });

    it('f32 with a shape, values rounded to f32', async () => {
      const src = [0.1, 0.2, 0.3, 1e-8, -1e30, 7];
      const t = w.fromArray(src, [2, 3]);
      expect([...t.shape]).toEqual([2, 3]);
      expect(t.rank).toBe(2);
      expect(t.size).toBe(6);
      expect(await t.toArray()).toEqual([...Float32Array.from(src)]);
      t.dispose();
    });

    it('i32 from an Int32Array (inferred) and from numbers (explicit)', async () => {
      const a = w.fromArray(new Int32Array([-5, 0, 2147483647, -2147483648]));
      expect(a.dtype).toBe('i32');
      const d = await a.data();
      expect(d).toBeInstanceOf(Int32Array);
      expect([...d]).toEqual([-5, 0, 2147483647, -2147483648]);
      const b = w.fromArray([1, -2, 3, 4], [2, 2], { dtype: 'i32' });
      expect(b.dtype).toBe('i32');
      expect(await b.toArray()).toEqual([1, -2, 3, 4]);
      a.dispose();
      b.dispose();
    });

    it('a non-integer into i32 is a DTypeError, and nothing leaks', () => {
      const before = live();
      expect(() => w.fromArray([1, 2.5], [2], { dtype: 'i32' })).toThrow(w.DTypeError);
      expect(() => w.fromArray([NaN], [1], { dtype: 'i32' })).toThrow(w.DTypeError);
      expect(() => w.fromArray(new Float32Array([0.5]), [1], { dtype: 'i32' })).toThrow(/not an integer/);
      expect(live()).toBe(before);
    });

    it('an integer outside the i32 range is a DTypeError', () => {
      expect(() => w.fromArray([2 ** 31], [1], { dtype: 'i32' })).toThrow(w.DTypeError);
      expect(() => w.fromArray([-(2 ** 31) - 1], [1], { dtype: 'i32' })).toThrow(w.DTypeError);
    });

    it('shape checks: wrong size, negative and fractional dims are ShapeErrors', () => {
      const before = live();
      expect(() => w.fromArray([1, 2, 3], [2, 2])).toThrow(w.ShapeError);
      expect(() => w.fromArray([1, 2, 3], [2, 2])).toThrow(/fromArray/);
      expect(() => w.fromArray([1, 2], [-1, -2])).toThrow(w.ShapeError);
      expect(() => w.fromArray([1, 2], [2.5])).toThrow(w.ShapeError);
      expect(live()).toBe(before);
    });

    it('empty tensors: shape [0] and [2, 0]', async () => {
      const a = w.fromArray([], [0]);
      const b = w.fromArray([], [2, 0, 3]);
      expect(a.size).toBe(0);
      expect(b.size).toBe(0);
      expect(await a.toArray()).toEqual([]);
      expect(await b.toArray()).toEqual([]);
      a.dispose();
      b.dispose();
    });

    it('requiresGrad only for f32', () => {
      const a = w.fromArray([1, 2], [2], { requiresGrad: true });
      expect(a.requiresGrad).toBe(true);
      expect(() => w.fromArray([1, 2], [2], { dtype: 'i32', requiresGrad: true })).toThrow(w.DTypeError);
      a.dispose();
    });
  });

  describe('scalar, item, toArray', () => {
    it('scalar has shape [] and one element', async () => {
      const s = w.scalar(-3.5);
      expect([...s.shape]).toEqual([]);
      expect(s.rank).toBe(0);
      expect(s.size).toBe(1);
      expect(await s.item()).toBe(-3.5);
      const i = w.scalar(7, { dtype: 'i32' });
      expect(i.dtype).toBe('i32');
      expect(await i.item()).toBe(7);
      s.dispose();
      i.dispose();
    });

    it('item() needs exactly one element', async () => {
      const one = w.fromArray([4], [1, 1, 1]);
      expect(await one.item()).toBe(4);
      const two = w.fromArray([1, 2]);
      await expect(two.item()).rejects.toThrow(w.ShapeError);
      const none = w.fromArray([], [0]);
      await expect(none.item()).rejects.toThrow(w.ShapeError);
      one.dispose();
      two.dispose();
      none.dispose();
    });

    it('toArray returns plain numbers; data() returns a fresh copy each time', async () => {
      const t = w.fromArray([1, 2, 3, 4, 5]);
      const arr = await t.toArray();
      expect(Array.isArray(arr)).toBe(true);
      expect(arr).toEqual([1, 2, 3, 4, 5]);
      const d1 = await t.data();
      d1[0] = 100;
      expect((await t.data())[0]).toBe(1);
      t.dispose();
    });
  });

  describe('full, zeros, ones', () => {
    const sizes = [1, 2, 3, 4, 5, 7, 63, 64, 65, 257, 1001];
    it.each(sizes)('full of %i elements (f32 and i32)', async (n) => {
      const f = w.full([n], 2.5);
      expect(await f.toArray()).toEqual(new Array(n).fill(2.5));
      const i = w.full([n], -7, { dtype: 'i32' });
      expect(i.dtype).toBe('i32');
      expect(await i.toArray()).toEqual(new Array(n).fill(-7));
      f.dispose();
      i.dispose();
    });

    it('zeros and ones with multi-dim shapes; onesLike/zerosLike keep dtype', async () => {
      const z = w.zeros([3, 1, 5]);
      const o = w.ones([2, 3], { dtype: 'i32' });
      expect([...z.shape]).toEqual([3, 1, 5]);
      expect(await z.toArray()).toEqual(new Array(15).fill(0));
      expect(await o.toArray()).toEqual(new Array(6).fill(1));
      const ol = w.onesLike(z);
      const zl = w.zerosLike(o);
      expect(ol.dtype).toBe('f32');
      expect(zl.dtype).toBe('i32');
      expect([...ol.shape]).toEqual([3, 1, 5]);
      expect(await ol.toArray()).toEqual(new Array(15).fill(1));
      expect(await zl.toArray()).toEqual(new Array(6).fill(0));
      for (const t of [z, o, ol, zl]) t.dispose();
    });

    it('zeros of a scalar shape and of an empty shape', async () => {
      const s = w.zeros([]);
      expect(await s.item()).toBe(0);
      const e = w.zeros([4, 0]);
      expect(await e.toArray()).toEqual([]);
      s.dispose();
      e.dispose();
    });

    it('a large fill (1_000_003 elements) is complete and exact', async () => {
      const n = 1_000_003;
      const t = w.full([n], -0.75);
      const d = await t.data();
      expect(d.length).toBe(n);
      let bad = -1;
      for (let i = 0; i < n; i++) if (d[i] !== -0.75) { bad = i; break; }
      expect(bad).toBe(-1);
      t.dispose();
    });

    it('a reused (dirty) buffer is fully overwritten by zeros', async () => {
      // Fill a buffer with garbage, free it, and make sure zeros of a nearby size reuse and clear it.
      const junk = w.full([1003], 9);
      junk.dispose();
      w.flush();
      const z = w.zeros([1001]);
      expect(await z.toArray()).toEqual(new Array(1001).fill(0));
      z.dispose();
    });

    it('special values: -0, Infinity, NaN', async () => {
      const a = w.full([3], -0);
      expect(Object.is((await a.data())[0], -0)).toBe(true);
      const b = w.full([2], Infinity);
      expect(await b.toArray()).toEqual([Infinity, Infinity]);
      const c = w.full([2], NaN);
      expect((await c.toArray()).every(Number.isNaN)).toBe(true);
      for (const t of [a, b, c]) t.dispose();
    });

    it('a non-integer i32 fill is a DTypeError; bad shapes are ShapeErrors', () => {
      const before = live();
      expect(() => w.full([3], 0.5, { dtype: 'i32' })).toThrow(w.DTypeError);
      expect(() => w.full([3], 2 ** 31, { dtype: 'i32' })).toThrow(w.DTypeError);
      expect(() => w.full([3], 1, { dtype: 'i32', requiresGrad: true })).toThrow(w.DTypeError);
      expect(() => w.zeros([2, -3])).toThrow(w.ShapeError);
      expect(() => w.ones([1.5])).toThrow(w.ShapeError);
      expect(live()).toBe(before);
    });
  });

  describe('arange', () => {
    it('integer ranges are i32 (like torch.arange)', async () => {
      const a = w.arange(5);
      expect(a.dtype).toBe('i32');
      expect(await a.toArray()).toEqual([0, 1, 2, 3, 4]);
      const b = w.arange(2, 11, 3);
      expect(await b.toArray()).toEqual([2, 5, 8]);
      const c = w.arange(10, 0, -3);
      expect(await c.toArray()).toEqual([10, 7, 4, 1]);
      const d = w.arange(-3, 2);
      expect(await d.toArray()).toEqual([-3, -2, -1, 0, 1]);
      for (const t of [a, b, c, d]) t.dispose();
    });

    it('empty ranges', async () => {
      const a = w.arange(0);
      const b = w.arange(5, 2);
      const c = w.arange(0, 10, -1);
      for (const t of [a, b, c]) {
        expect([...t.shape]).toEqual([0]);
        expect(await t.toArray()).toEqual([]);
        t.dispose();
      }
    });

    it('float ranges are f32 with the torch element count', async () => {
      const a = w.arange(0, 1, 0.25);
      expect(a.dtype).toBe('f32');
      expect(await a.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
      const b = w.arange(0.5, 2.6, 0.5);
      expect(await b.toArray()).toEqual([0.5, 1, 1.5, 2, 2.5]);
      const c = w.arange(1, -1, -0.5);
      expect(await c.toArray()).toEqual([1, 0.5, 0, -0.5]);
      const d = w.arange(0, 1, 0.1);
      expect(d.size).toBe(10);
      expectClose(await d.data(), Array.from({ length: 10 }, (_, i) => i / 10), 1e-6, 0);
      for (const t of [a, b, c, d]) t.dispose();
    });

    it('explicit dtype, and step 0 is an ArgumentError', async () => {
      const a = w.arange(0, 3, 1, { dtype: 'f32' });
      expect(a.dtype).toBe('f32');
      expect(await a.toArray()).toEqual([0, 1, 2]);
      a.dispose();
      expect(() => w.arange(0, 3, 0)).toThrow(w.ArgumentError);
      expect(() => w.arange(0, Infinity)).toThrow(w.ArgumentError);
      expect(() => w.arange(NaN)).toThrow(w.ArgumentError);
    });
  });

  describe('random', () => {
    it('rand: same seed, same values; other seed, other values; all in [low, high)', async () => {
      const a = await take(w.rand([1000], { seed: 11 }));
      const b = await take(w.rand([1000], { seed: 11 }));
      const c = await take(w.rand([1000], { seed: 12 }));
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      expect(a.every((v) => v >= 0 && v < 1)).toBe(true);
      const r = await take(w.rand([2000], { seed: 3, low: -2, high: 5 }));
      expect(r.every((v) => v >= -2 && v < 5)).toBe(true);
      // Uniform: mean ~ 1.5, both ends of the range visited.
      const mean = r.reduce((s, v) => s + v, 0) / r.length;
      expect(Math.abs(mean - 1.5)).toBeLessThan(0.25);
      expect(Math.min(...r)).toBeLessThan(-1.9);
      expect(Math.max(...r)).toBeGreaterThan(4.9);
    });

    it('randn: reproducible; mean and std right on 1e5 samples', async () => {
      const n = 100_000;
      const t = w.randn([n], { seed: 5 });
      const a = await t.data();
      const b = Float32Array.from(await take(w.randn([n], { seed: 5 })));
      expect(a).toEqual(b);
      const c = await take(w.randn([16], { seed: 6 }));
      expect(c).not.toEqual([...a.subarray(0, 16)]);
      let s = 0;
      let s2 = 0;
      for (const v of a) {
        s += v;
        s2 += v * v;
      }
      const mean = s / n;
      const std = Math.sqrt(s2 / n - mean * mean);
      // Standard error of the mean is 1/sqrt(n) ~ 0.003.
      expect(Math.abs(mean)).toBeLessThan(0.015);
      expect(Math.abs(std - 1)).toBeLessThan(0.015);
      // Roughly 68.3 % within one sigma.
      const within = a.filter((v) => Math.abs(v) < 1).length / n;
      expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
      t.dispose();
    });

    it('randn with mean and std, and an odd size', async () => {
      const a = await take(w.randn([10_001], { seed: 9, mean: 3, std: 0.5 }));
      expect(a.length).toBe(10_001);
      const mean = a.reduce((s, v) => s + v, 0) / a.length;
      const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
      expect(Math.abs(mean - 3)).toBeLessThan(0.03);
      expect(Math.abs(std - 0.5)).toBeLessThan(0.03);
    });

    it('randint: i32 in [low, high), every value drawn, reproducible', async () => {
      const t = w.randint([4000], -3, 4, { seed: 1 });
      expect(t.dtype).toBe('i32');
      const a = await t.toArray();
      expect(a.every((v) => Number.isInteger(v) && v >= -3 && v < 4)).toBe(true);
      expect(new Set(a).size).toBe(7);
      expect(await take(w.randint([4000], -3, 4, { seed: 1 }))).toEqual(a);
      expect(await take(w.randint([4000], -3, 4, { seed: 2 }))).not.toEqual(a);
      t.dispose();
    });

    it('randint with an empty or non-integer range is an ArgumentError', () => {
      expect(() => w.randint([3], 2, 2)).toThrow(w.ArgumentError);
      expect(() => w.randint([3], 5, 1)).toThrow(w.ArgumentError);
      expect(() => w.randint([3], 0.5, 3)).toThrow(w.ArgumentError);
    });

    it('a Generator object continues its stream; manualSeed resets the default one', async () => {
      const g1 = new w.Generator(77);
      const first = await take(w.rand([8], { generator: g1 }));
      const second = await take(w.rand([8], { generator: g1 }));
      expect(second).not.toEqual(first);
      const g2 = new w.Generator(77);
      expect(await take(w.rand([16], { generator: g2 }))).toEqual([...first, ...second]);
      w.manualSeed(123);
      const d1 = await take(w.rand([8]));
      w.manualSeed(123);
      const d2 = await take(w.rand([8]));
      expect(d2).toEqual(d1);
    });
  });
});
