import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';

const live = () => w.runtime().memory().live;

describe.each(devices())('memory on %s', () => {
  describe('a training-like loop', () => {
    it('1000 steps of forward, backward and update inside tidy() keep live memory flat', async () => {
      // Fit y = 2 x0 - 3 x1 + 1 with a linear model; the loss must fall, memory must not grow.
      const n = 32;
      const g = new w.Generator(5);
      const xs = g.uniform(n * 2, -1, 1);
      const ys = new Float32Array(n);
      for (let i = 0; i < n; i++) ys[i] = 2 * xs[2 * i]! - 3 * xs[2 * i + 1]! + 1;
      const X = w.fromArray(xs, [n, 2]);
      const Y = w.fromArray(ys, [n]);
      let wt = w.zeros([2], { requiresGrad: true });
      let b = w.zeros([1], { requiresGrad: true });
      const lr = 0.1;
      let atTen = -1;
      let createdAt100 = -1;
      let firstLoss = NaN;
      let lastLoss: w.Tensor | null = null;
      for (let step = 1; step <= 1000; step++) {
        lastLoss?.dispose();
        lastLoss = w.tidy(() => {
          // pred = X . wt + b, by broadcasting and a sum over the feature axis.
          const pred = w.add(w.sum(w.mul(X, wt), 1), b);
          const loss = w.mean(w.square(w.sub(pred, Y)));
          w.backward(loss);
          const [nw, nb] = w.noGrad(() => [wt, b].map((p) => w.keep(w.requireGrad(w.sub(p, w.mul(p.grad!, lr))))));
          wt.dispose();
          b.dispose();
          wt = nw!;
          b = nb!;
          return loss;
        });
        if (step === 1) firstLoss = await lastLoss.item();
        if (step === 10) atTen = live();
        if (step === 100) createdAt100 = w.runtime().memory().created;
        if (step % 250 === 0) expect(live(), `live buffers at step ${step}`).toBe(atTen);
      }
      expect(live()).toBe(atTen);
      // The pool recycles: once warm, steps allocate (almost) no new GPU buffers. Freed buffers wait
      // for the next submit, so the pool's high-water mark depends on where in a step the automatic
      // submits fall; that shifts a little until every phase was seen. A leak would add ~1 per step.
      expect(w.runtime().memory().created).toBeLessThanOrEqual(createdAt100 + 8);
      const final = await lastLoss!.item();
      expect(final).toBeLessThan(firstLoss * 1e-3);
      expectClose(await wt.data(), [2, -3], 1e-2, 0);
      expectClose(await b.data(), [1], 1e-2, 0);
      for (const t of [X, Y, wt, b, lastLoss!]) t.dispose();
    });
  });

  describe('tidy()', () => {
    it('disposes what the function made, except what it returns', async () => {
      const before = live();
      let inner: w.Tensor | null = null;
      const r = w.tidy(() => {
        inner = w.ones([3]);
        return w.mul(inner, 2);
      });
      expect(inner!.disposed).toBe(true);
      expect(r.disposed).toBe(false);
      expect(await r.toArray()).toEqual([2, 2, 2]);
      expect(live()).toBe(before + 1);
      r.dispose();
      expect(live()).toBe(before);
    });

    it('returned arrays, objects and Maps survive; other values pass through', async () => {
      const before = live();
      const out = w.tidy(() => {
        const a = w.ones([1]);
        const b = w.full([1], 2);
        const c = w.full([1], 3);
        w.full([1], 4); // dropped
        return { list: [a, 7], nested: { b }, map: new Map([['c', c]]), text: 'x' };
      });
      expect(out.text).toBe('x');
      expect(out.list[1]).toBe(7);
      const a = out.list[0] as w.Tensor;
      const c = out.map.get('c')!;
      expect(await a.toArray()).toEqual([1]);
      expect(await out.nested.b.toArray()).toEqual([2]);
      expect(await c.toArray()).toEqual([3]);
      expect(live()).toBe(before + 3);
      for (const t of [a, out.nested.b, c]) t.dispose();
      expect(w.tidy(() => 42)).toBe(42);
      expect(w.tidy(() => undefined)).toBeUndefined();
      expect(live()).toBe(before);
    });

    it('tensors created outside are not touched', async () => {
      const outside = w.ones([2]);
      const r = w.tidy(() => w.add(outside, 1));
      expect(outside.disposed).toBe(false);
      expect(await r.toArray()).toEqual([2, 2]);
      const same = w.tidy(() => outside);
      expect(same).toBe(outside);
      expect(outside.disposed).toBe(false);
      outside.dispose();
      r.dispose();
    });

    it('nested: the inner result moves to the outer scope', async () => {
      const before = live();
      let innerResult: w.Tensor | null = null;
      let innerTemp: w.Tensor | null = null;
      let outerTemp: w.Tensor | null = null;
      const r = w.tidy(() => {
        expect(w.scopeDepth()).toBe(1);
        outerTemp = w.ones([2]);
        innerResult = w.tidy(() => {
          expect(w.scopeDepth()).toBe(2);
          innerTemp = w.ones([2]);
          return w.add(innerTemp, outerTemp!);
        });
        expect(innerTemp!.disposed).toBe(true);
        expect(innerResult.disposed).toBe(false);
        return w.mul(innerResult, 3);
      });
      expect(w.scopeDepth()).toBe(0);
      // The inner result was not returned by the outer scope, so it is gone now.
      expect(innerResult!.disposed).toBe(true);
      expect(outerTemp!.disposed).toBe(true);
      expect(await r.toArray()).toEqual([6, 6]);
      r.dispose();
      expect(live()).toBe(before);
    });

    it('keep() lets a tensor outlive its scope', async () => {
      const before = live();
      let kept: w.Tensor | null = null;
      w.tidy(() => {
        kept = w.keep(w.full([2], 5));
        w.ones([2]);
      });
      expect(kept!.disposed).toBe(false);
      expect(await kept!.toArray()).toEqual([5, 5]);
      // Kept inside a nested scope: survives both.
      let deep: w.Tensor | null = null;
      w.tidy(() => w.tidy(() => void (deep = w.keep(w.ones([1])))));
      expect(deep!.disposed).toBe(false);
      kept!.dispose();
      deep!.dispose();
      expect(live()).toBe(before);
    });

    it('a throwing function disposes its tensors and rethrows', () => {
      const before = live();
      let made: w.Tensor | null = null;
      expect(() =>
        w.tidy(() => {
          made = w.ones([4]);
          w.tidy(() => w.ones([4]));
          throw new RangeError('boom');
        }),
      ).toThrow(RangeError);
      expect(made!.disposed).toBe(true);
      expect(w.scopeDepth()).toBe(0);
      expect(live()).toBe(before);
    });

    it('an async function is an ArgumentError, and what it made synchronously is freed', async () => {
      const before = live();
      let made: w.Tensor | null = null;
      expect(() =>
        w.tidy(async () => {
          made = w.ones([2]);
          return 1;
        }),
      ).toThrow(w.ArgumentError);
      expect(made!.disposed).toBe(true);
      expect(w.scopeDepth()).toBe(0);
      expect(live()).toBe(before);
    });

    it('keeps the saved tensors a returned graph needs for backward, then frees them with the scope', async () => {
      const before = live();
      const x = w.fromArray([1, 2, 3], [3], { requiresGrad: true });
      w.tidy(() => {
        const y = w.tidy(() => {
          const h = w.mul(x, 2); // saved by the mul below
          return w.sum(w.mul(h, h));
        });
        w.backward(y);
      });
      // d sum((2x)^2) = 8x
      expectClose(await x.grad!.data(), [8, 16, 24]);
      x.dispose();
      expect(live()).toBe(before);
    });

    it('at the top level, graph tensors kept for a result are freed with it', async () => {
      const x = w.fromArray([1, 2, 3], [3], { requiresGrad: true });
      const before = live();
      const y = w.tidy(() => {
        const h = w.mul(x, 2);
        return w.sum(w.mul(h, h));
      });
      expect(live()).toBeGreaterThan(before + 1); // y and the graph behind it
      w.backward(y);
      expectClose(await x.grad!.data(), [8, 16, 24]);
      y.dispose();
      expect(live()).toBe(before + 1); // only x.grad
      // Without a backward the graph goes the same way.
      const z = w.tidy(() => w.exp(w.mul(x, 3)));
      z.dispose();
      expect(live()).toBe(before + 1);
      x.dispose();
    });

    it('a graph shared by two results lives until both are disposed', async () => {
      const x = w.fromArray([1, 2], [2], { requiresGrad: true });
      const before = live();
      const { a, b } = w.tidy(() => {
        const h = w.exp(x); // saved by exp, shared by both results
        return { a: w.sum(w.mul(h, 2)), b: w.sum(w.mul(h, h)) };
      });
      a.dispose();
      w.backward(b);
      const e = [Math.exp(1), Math.exp(2)];
      // d sum(exp(x)^2) = 2 exp(2x)
      expectClose(await x.grad!.data(), e.map((v) => 2 * v * v), 1e-4, 1e-5);
      b.dispose();
      expect(live()).toBe(before + 1);
      x.dispose();
    });

    it('backward inside tidy leaves only the .grad of leaves behind', () => {
      const x = w.fromArray([1, 2], [2], { requiresGrad: true });
      const before = live();
      w.tidy(() => w.backward(w.sum(w.exp(w.mul(x, x)))));
      expect(live()).toBe(before + 1); // x.grad
      w.tidy(() => w.backward(w.sum(w.mul(x, 3))));
      expect(live()).toBe(before + 1); // accumulated in place of the old one
      x.dispose(); // disposes its grad too
      expect(live()).toBe(before - 1);
    });
  });

  describe('dispose', () => {
    it('use after dispose is a DisposedError naming the op', async () => {
      const x = w.ones([2, 3]);
      x.dispose();
      expect(x.disposed).toBe(true);
      const cases: [string, () => unknown][] = [
        ['exp', () => w.exp(x)],
        ['add', () => w.add(x, x)],
        ['reshape', () => w.reshape(x, [3, 2])],
        ['permute', () => w.permute(x, [1, 0])],
        ['slice', () => w.slice(x, [[0, 1]])],
        ['pad', () => w.pad(x, [1, 1])],
        ['concat', () => w.concat([x, x])],
        ['clone', () => w.clone(x)],
        ['cast', () => w.cast(x, 'i32')],
        ['expand', () => w.expand(x, [2, 2, 3])],
      ];
      for (const [op, fn] of cases) {
        const before = live();
        let err: unknown = null;
        try {
          fn();
        } catch (e) {
          err = e;
        }
        expect(err, op).toBeInstanceOf(w.DisposedError);
        expect((err as w.DisposedError).op, op).toBe(op);
        expect((err as Error).message, op).toMatch(new RegExp(`^${op}: .*\\[2,3\\].*disposed`));
        expect(live(), `${op} leaked its output`).toBe(before);
      }
      await expect(x.data()).rejects.toThrow(w.DisposedError);
      const s = w.scalar(1);
      s.dispose();
      await expect(s.item()).rejects.toThrow(w.DisposedError);
    });

    it('dispose is idempotent and releases the buffer once', () => {
      const before = live();
      const x = w.ones([3]);
      expect(live()).toBe(before + 1);
      x.dispose();
      x.dispose();
      expect(live()).toBe(before);
    });

    it('views share storage: the buffer is freed with the last handle', async () => {
      const before = live();
      const x = w.fromArray([1, 2, 3, 4]);
      const v = w.reshape(x, [2, 2]);
      expect(live()).toBe(before + 1);
      x.dispose();
      expect(live()).toBe(before + 1);
      expect(await v.toArray()).toEqual([1, 2, 3, 4]);
      v.dispose();
      expect(live()).toBe(before);
    });

    it('Symbol.dispose with `using`', async () => {
      const before = live();
      let seen: w.Tensor | null = null;
      {
        using t = w.ones([2]);
        seen = t;
        expect(await t.toArray()).toEqual([1, 1]);
        expect(live()).toBe(before + 1);
      }
      expect(seen!.disposed).toBe(true);
      expect(live()).toBe(before);
      const u = w.ones([1]);
      u[Symbol.dispose]();
      expect(u.disposed).toBe(true);
      expect(live()).toBe(before);
    });
  });
});
