// Dropout and Dropout2d: masks equal to the host reference of the WGSL hash bit for bit, seeded
// reproducibility and exact resumption from a saved (seed, offset), keep rates, the gradient
// (the same mask times the scale), the p = 0 / p = 1 / eval edge cases and flat memory.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { dropoutKeepMask } from './dropout-ref.js';

const f32 = Math.fround;

/** The expected dropout output x * m for a keep mask (f32 arithmetic and signed zeros, as the kernel). */
function expected(x: Float32Array, keep: Uint8Array, p: number): Float32Array {
  const scale = f32(1 / (1 - p));
  return x.map((v, i) => f32(v * (keep[i] ? scale : 0)));
}

function keepOf(y: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(y, (v) => (v !== 0 ? 1 : 0));
}

describe.each(devices())('dropout on %s', () => {
  it.each([
    { shape: [2, 3, 7, 11], p: 0.3, seed: 123, offset: 7 },
    { shape: [1001], p: 0.5, seed: 0, offset: 0 },
    { shape: [5, 13], p: 0.9, seed: 0xffffffff, offset: 2 ** 32 + 5 }, // the offset's high word
  ])('matches the host reference of the hash bit for bit: %j', async ({ shape, p, seed, offset }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = new w.Generator(3).uniform(n, 1, 2);
    const x = w.fromArray(xs, shape);
    const rng = new w.DropoutRng(seed, offset);
    const y = w.dropout(x, p, { rng });
    expect([...y.shape]).toEqual(shape);
    expect(rng.getState()).toEqual({ seed, offset: offset + 1 });
    const want = expected(xs, dropoutKeepMask(n, p, seed, offset), p);
    expect(Array.from(await y.data())).toEqual(Array.from(want));
    x.dispose();
    y.dispose();
  });

  it('is reproducible from the seed; offsets and seeds give different masks', async () => {
    const n = 1 << 16;
    const x = w.ones([n]);
    const run = async (rng: w.DropoutRng) => {
      const out: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const y = w.dropout(x, 0.5, { rng });
        out.push(keepOf(await y.data()));
        y.dispose();
      }
      return out;
    };
    const a = await run(new w.DropoutRng(42));
    const b = await run(new w.DropoutRng(42));
    const c = await run(new w.DropoutRng(43));
    for (let i = 0; i < 3; i++) expect(a[i]).toEqual(b[i]);
    // Independent masks with p = 0.5 disagree on about half the elements.
    const differ = (u: Uint8Array, v: Uint8Array) => u.reduce((s, _, i) => s + (u[i] !== v[i] ? 1 : 0), 0) / n;
    for (const [u, v] of [
      [a[0]!, a[1]!],
      [a[1]!, a[2]!],
      [a[0]!, c[0]!],
    ] as const) {
      const d = differ(u, v);
      expect(d).toBeGreaterThan(0.48);
      expect(d).toBeLessThan(0.52);
    }
    x.dispose();
  });

  it.each([0.1, 0.5, 0.9])('keeps 1 - p of the elements (p = %f) and preserves the mean', async (p) => {
    const n = 1 << 18;
    const x = w.ones([n]);
    const y = w.dropout(x, p, { rng: new w.DropoutRng(9) });
    const v = Array.from(await y.data());
    const kept = v.reduce((s, e) => s + (e !== 0 ? 1 : 0), 0) / n;
    // Five standard deviations of a binomial proportion.
    const tol = 5 * Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(kept - (1 - p))).toBeLessThan(tol);
    const mean = v.reduce((s, e) => s + e, 0) / n;
    expect(Math.abs(mean - 1)).toBeLessThan(tol / (1 - p));
    x.dispose();
    y.dispose();
  });

  it('backward is the same mask times the scale', async () => {
    const shape = [3, 4, 5, 6];
    const n = 360;
    const g = new w.Generator(11);
    const xs = g.uniform(n, -2, 2);
    const cs = g.uniform(n, -1, 1);
    const x = w.fromArray(xs, shape, { requiresGrad: true });
    const c = w.fromArray(cs, shape);
    const rng = new w.DropoutRng(5, 3);
    const y = w.dropout(x, 0.25, { rng });
    w.tidy(() => w.backward(w.sum(w.mul(y, c))));
    const keep = dropoutKeepMask(n, 0.25, 5, 3);
    expect(keepOf(await y.data())).toEqual(keep);
    const scale = f32(1 / 0.75);
    // d sum(c * x * m) / dx = c * m
    expect(Array.from(await x.grad!.data())).toEqual(Array.from(cs, (v, i) => f32(v * (keep[i] ? scale : 0))));
    // Backward drew no mask of its own.
    expect(rng.getState().offset).toBe(4);
    for (const t of [x, c, y]) t.dispose();
  });

  it('dropout2d zeroes whole channels, as the reference, with the channel keep rate', async () => {
    const shape = [4, 8, 5, 3];
    const n = 480;
    const xs = new w.Generator(2).uniform(n, 1, 2);
    const x = w.fromArray(xs, shape, { requiresGrad: true });
    const y = w.dropout2d(x, 0.4, { rng: new w.DropoutRng(77, 1) });
    const keep = dropoutKeepMask(n, 0.4, 77, 1, 15);
    expect(Array.from(await y.data())).toEqual(Array.from(expected(xs, keep, 0.4)));
    w.tidy(() => w.backward(w.sum(y)));
    expect(Array.from(await x.grad!.data())).toEqual(Array.from(keep, (k) => (k ? f32(1 / 0.6) : 0)));
    x.dispose();
    y.dispose();

    const big = w.ones([64, 256, 2, 2]);
    const bigY = w.dropout2d(big, 0.3, { rng: new w.DropoutRng(1) });
    const yb = (await bigY.data()) as Float32Array;
    bigY.dispose();
    let kept = 0;
    for (let ch = 0; ch < 64 * 256; ch++) {
      const plane = yb.subarray(ch * 4, ch * 4 + 4);
      expect(plane.every((v) => v === plane[0])).toBe(true);
      kept += plane[0] !== 0 ? 1 : 0;
    }
    expect(Math.abs(kept / (64 * 256) - 0.7)).toBeLessThan(5 * Math.sqrt(0.21 / (64 * 256)));
    big.dispose();
    w.tidy(() => {
      expect(() => w.dropout2d(w.ones([2, 3]), 0.5)).toThrow(w.ShapeError);
    });
  });

  it.each([
    [1, 1],
    [1, 2],
    [3, 1],
    [1, 5],
    [2, 3],
  ])('dropout2d on %ix%i planes matches the reference (one mask value per plane)', async (h, wd) => {
    const shape = [3, 7, h, wd];
    const n = 21 * h * wd;
    const xs = new w.Generator(h * 10 + wd).uniform(n, 1, 2);
    const x = w.fromArray(xs, shape);
    const y = w.dropout2d(x, 0.5, { rng: new w.DropoutRng(h, wd) });
    expect(Array.from(await y.data())).toEqual(Array.from(expected(xs, dropoutKeepMask(n, 0.5, h, wd, h * wd), 0.5)));
    x.dispose();
    y.dispose();
  });

  it('p = 0, eval mode and empty inputs return x; p = 1 gives x * 0 with a zero gradient; no offset is used', async () => {
    const rng = new w.DropoutRng(1, 10);
    const x = w.fromArray([1, -2, 3, Infinity], [4], { requiresGrad: true });
    expect(w.dropout(x, 0, { rng })).toBe(x);
    expect(w.dropout(x, 0.5, { rng, training: false })).toBe(x);
    const e = w.zeros([0, 3]);
    expect(w.dropout(e, 0.5, { rng })).toBe(e);
    const y = w.dropout(x, 1, { rng });
    // x * 0, as ATen: an infinity becomes NaN.
    expectClose(await y.data(), [0, 0, 0, NaN]);
    w.tidy(() => w.backward(w.sum(y)));
    expect(Array.from(await x.grad!.data())).toEqual([0, 0, 0, 0]);
    expect(rng.getState()).toEqual({ seed: 1, offset: 10 });
    for (const p of [-0.1, 1.5, NaN]) {
      expect(() => w.dropout(x, p, { rng })).toThrow(w.ArgumentError);
      expect(() => new w.Dropout(p)).toThrow(w.ArgumentError);
      expect(() => new w.Dropout2d(p)).toThrow(w.ArgumentError);
    }
    x.dispose();
    y.dispose();
    e.dispose();
  });

  it('DropoutRng validates its state and reseeds', () => {
    const rng = new w.DropoutRng(3, 4);
    expect(rng.next()).toEqual({ seed: 3, offset: 4 });
    expect(rng.getState()).toEqual({ seed: 3, offset: 5 });
    rng.manualSeed(9);
    expect(rng.getState()).toEqual({ seed: 9, offset: 0 });
    expect(() => rng.setState({ seed: -1, offset: 0 })).toThrow(w.ArgumentError);
    expect(() => rng.setState({ seed: 2 ** 32, offset: 0 })).toThrow(w.ArgumentError);
    expect(() => rng.setState({ seed: 1, offset: 0.5 })).toThrow(w.ArgumentError);
    expect(() => new w.DropoutRng(1, -1)).toThrow(w.ArgumentError);
  });

  it('layers: identity in eval mode; a restored rng state resumes the masks bit for bit', async () => {
    const rng = new w.DropoutRng(2024);
    const model = new w.Sequential(new w.Dropout(0.3, { rng }), new w.Dropout2d(0.2, { rng }));
    const x = w.fromArray(new w.Generator(4).uniform(2 * 6 * 4 * 4, 1, 2), [2, 6, 4, 4]);
    const step = async () => {
      const y = model.forward(x);
      const v = await y.data();
      y.dispose();
      return v;
    };
    for (let i = 0; i < 3; i++) await step();
    expect(rng.getState().offset).toBe(6);
    const saved = rng.getState();
    const first = [await step(), await step()];
    expect(first[0]).not.toEqual(first[1]);
    rng.setState(saved);
    const again = [await step(), await step()];
    expect(again).toEqual(first);

    model.eval();
    expect(model.forward(x)).toBe(x);
    expect(rng.getState().offset).toBe(saved.offset + 4);
    model.train();
    expect(model.layers[0]!.training).toBe(true);
    x.dispose();
  });

  it('layers without an rng draw from defaultDropoutRng (its state is what a checkpoint saves)', async () => {
    const saved = w.defaultDropoutRng.getState();
    const d = new w.Dropout(0.5);
    expect(d.rng).toBe(w.defaultDropoutRng);
    const x = w.ones([64]);
    const ya = d.forward(x);
    const a = await ya.data();
    expect(w.defaultDropoutRng.getState().offset).toBe(saved.offset + 1);
    w.defaultDropoutRng.setState(saved);
    const yb = d.forward(x);
    expect(await yb.data()).toEqual(a);
    ya.dispose();
    yb.dispose();
    w.defaultDropoutRng.setState(saved);
    x.dispose();
  });

  it('200 training steps through dropout keep live memory flat', async () => {
    const live = () => w.runtime().memory().live;
    const rng = new w.DropoutRng(8);
    const model = new w.Sequential(new w.Linear(16, 32, { generator: new w.Generator(1) }), new w.Dropout(0.5, { rng }), new w.ReLU(), new w.Dropout(0.1, { rng }));
    const x = w.fromArray(new w.Generator(2).uniform(8 * 16, -1, 1), [8, 16]);
    let at10 = -1;
    for (let s = 1; s <= 200; s++) {
      w.tidy(() => {
        model.zeroGrad();
        w.backward(w.mean(model.forward(x)));
      });
      if (s === 10) at10 = live();
    }
    await w.runtime().sync();
    expect(live()).toBe(at10);
    expect(rng.getState().offset).toBe(400);
    model.zeroGrad();
    model.dispose();
    x.dispose();
  });
});
