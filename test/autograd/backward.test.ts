import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';

/** The values of a tensor, which is then disposed. */
async function take(t: w.Tensor | null): Promise<number[]> {
  if (!t) throw new Error('expected a tensor, got null');
  const v = await t.toArray();
  t.dispose();
  return v;
}

const leaf = (values: number[], shape = [values.length]) => w.fromArray(values, shape, { requiresGrad: true });

/** Calls of a custom op's backward rule: which op, and the `needs` mask it was given. */
type Calls = { op: string; needs: boolean[] }[];

/**
 * y = sum_i scale_i * x_i as a custom op built with record(): the forward runs untracked, the
 * backward logs its calls and returns scale_i * gy only for the inputs it is asked for.
 */
function customLinear(op: string, xs: w.Tensor[], scales: number[], calls: Calls): w.Tensor {
  const y = w.noGrad(() => xs.slice(1).reduce((acc, x, i) => w.add(acc, w.mul(x, scales[i + 1]!)), w.mul(xs[0]!, scales[0]!)));
  return w.record(op, xs, y, [], (gy, needs) => {
    calls.push({ op, needs: [...needs] });
    return xs.map((_, i) => (needs[i] ? w.mul(gy, scales[i]!) : null));
  });
}

describe.each(devices())('autograd on %s', () => {
  describe('backward()', () => {
    it('computes d sum(x*x) / dx = 2x and accumulates into .grad across calls', async () => {
      const x = leaf([1, -2, 3]);
      const y1 = w.sum(w.mul(x, x));
      w.backward(y1);
      expectClose(await x.grad!.data(), [2, -4, 6]);
      const y2 = w.sum(w.mul(x, x));
      w.backward(y2);
      expectClose(await x.grad!.data(), [4, -8, 12]);
      // A third root adds a different gradient: d sum(3x) = 3.
      const y3 = w.sum(w.mul(x, 3));
      w.backward(y3);
      expectClose(await x.grad!.data(), [7, -5, 15]);
      for (const t of [x, y1, y2, y3]) t.dispose();
    });

    it('a non-scalar root needs an explicit gradient', async () => {
      const x = leaf([1, 2, 3]);
      const y = w.mul(x, x);
      expect(() => w.backward(y)).toThrow(w.GradError);
      expect(() => w.backward(y)).toThrow(/not a scalar/);
      const gy = w.fromArray([1, 0.5, -1]);
      w.backward(y, gy);
      // d(x^2) gy = 2 x gy
      expectClose(await x.grad!.data(), [2, 2, -6]);
      // The caller's gradient tensor is not consumed.
      expect(gy.disposed).toBe(false);
      expect(await gy.toArray()).toEqual([1, 0.5, -1]);
      for (const t of [x, y, gy]) t.dispose();
    });

    it('a gradient of the wrong shape is a GradError', () => {
      const x = leaf([1, 2, 3]);
      const y = w.mul(x, 2);
      const gy = w.ones([2]);
      const before = w.runtime().memory().live;
      expect(() => w.backward(y, gy)).toThrow(w.GradError);
      expect(w.runtime().memory().live).toBe(before);
      for (const t of [x, y, gy]) t.dispose();
    });

    it('on a tensor that does not require gradients is a GradError', () => {
      const x = w.fromArray([1, 2]);
      const y = w.sum(x);
      expect(y.requiresGrad).toBe(false);
      expect(() => w.backward(y)).toThrow(w.GradError);
      x.dispose();
      y.dispose();
    });

    it('a second backward through a freed graph is a GradError; retainGraph allows it', async () => {
      const x = leaf([1, 2]);
      const y = w.sum(w.mul(x, x));
      w.backward(y);
      expect(() => w.backward(y)).toThrow(w.GradError);
      expect(() => w.backward(y)).toThrow(/retainGraph/);
      expectClose(await x.grad!.data(), [2, 4]);

      const x2 = leaf([1, 2]);
      const y2 = w.sum(w.mul(x2, x2));
      w.backward(y2, undefined, { retainGraph: true });
      w.backward(y2, undefined, { retainGraph: true });
      w.backward(y2);
      expectClose(await x2.grad!.data(), [6, 12]);
      expect(() => w.backward(y2)).toThrow(w.GradError);
      for (const t of [x, y, x2, y2]) t.dispose();
    });

    it('backward of a leaf itself gives ones', async () => {
      const x = leaf([5, 6]);
      const s = w.sum(x);
      w.backward(s);
      expect(await x.grad!.toArray()).toEqual([1, 1]);
      x.dispose();
      s.dispose();
    });

    it('fan-out: a tensor used several times gets the summed gradient', async () => {
      const xs = [0.5, -1, 2];
      const x = leaf(xs);
      // y = sum(x*x + 3x + x) -> dy/dx = 2x + 4
      const y = w.sum(w.add(w.add(w.mul(x, x), w.mul(x, 3)), x));
      w.backward(y);
      expectClose(await x.grad!.data(), xs.map((v) => 2 * v + 4));
      x.dispose();
      y.dispose();
    });

    it('diamond: two paths through one intermediate', async () => {
      const xs = [1, 2, -3];
      const x = leaf(xs);
      const h = w.mul(x, 2); // h = 2x
      const y = w.sum(w.mul(w.add(h, 1), w.sub(h, 1))); // (h+1)(h-1) = h^2 - 1
      w.backward(y);
      // dy/dx = 2h * 2 = 8x
      expectClose(await x.grad!.data(), xs.map((v) => 8 * v));
      for (const t of [x, h, y]) t.dispose();
    });

    it('a deep chain (5000 ops) needs no recursion', async () => {
      const x = leaf([1, 2]);
      const before = w.runtime().memory().live;
      w.tidy(() => {
        let h = x;
        for (let i = 0; i < 5000; i++) h = w.reshape(h, i % 2 ? [2] : [1, 2]);
        w.backward(w.sum(w.mul(h, 3)));
      });
      expect(w.runtime().memory().live).toBe(before + 1); // x.grad
      expect(await x.grad!.toArray()).toEqual([3, 3]);
      x.dispose();
    });

    it('an i32 gradient is a GradError', () => {
      const x = leaf([1, 2]);
      const y = w.mul(x, 2);
      const gi = w.ones([2], { dtype: 'i32' });
      expect(() => w.backward(y, gi)).toThrow(w.GradError);
      for (const t of [x, y, gi]) t.dispose();
    });

    it('only leaves that require gradients get .grad', async () => {
      const a = leaf([1, 2]);
      const b = w.fromArray([3, 4]);
      const y = w.sum(w.mul(a, b));
      w.backward(y);
      expect(await a.grad!.toArray()).toEqual([3, 4]);
      expect(b.grad).toBeNull();
      for (const t of [a, b, y]) t.dispose();
    });
  });

  describe('recording switches', () => {
    it('noGrad disables recording and restores it afterwards (also after a throw)', () => {
      const x = leaf([1, 2]);
      const y = w.noGrad(() => w.mul(x, x));
      expect(y.requiresGrad).toBe(false);
      expect(y.gradFn).toBeNull();
      expect(w.isGradEnabled()).toBe(true);
      expect(() =>
        w.noGrad(() => {
          expect(w.isGradEnabled()).toBe(false);
          throw new Error('inside');
        }),
      ).toThrow('inside');
      expect(w.isGradEnabled()).toBe(true);
      // noGrad(fn, true) switches recording back on inside an outer noGrad.
      const on = w.noGrad(() => w.noGrad(() => w.mul(x, x), true));
      expect(on.requiresGrad).toBe(true);
      on.dispose();
      const z = w.mul(x, x);
      expect(z.requiresGrad).toBe(true);
      expect(z.gradFn).not.toBeNull();
      expect(() => w.backward(w.sum(y))).toThrow(w.GradError);
      for (const t of [x, y, z]) t.dispose();
    });

    it('requireGrad marks leaves; f32 only; not on results of tracked ops', () => {
      const x = w.fromArray([1, 2]);
      expect(x.requiresGrad).toBe(false);
      expect(w.requireGrad(x)).toBe(x);
      expect(x.requiresGrad).toBe(true);
      w.requireGrad(x, false);
      expect(x.requiresGrad).toBe(false);
      const i = w.fromArray(new Int32Array([1]));
      expect(() => w.requireGrad(i)).toThrow(w.DTypeError);
      const p = leaf([1]);
      const q = w.mul(p, 2);
      expect(() => w.requireGrad(q)).toThrow(w.GradError);
      for (const t of [x, i, p, q]) t.dispose();
    });

    it('detach cuts the graph but shares the values', async () => {
      const xs = [1, -2, 3];
      const x = leaf(xs);
      const d = w.detach(x);
      expect(d.requiresGrad).toBe(false);
      expect(d.gradFn).toBeNull();
      expect(await d.toArray()).toEqual(xs);
      // y = sum(stop(x) * x): dy/dx = x, not 2x.
      const y = w.sum(w.mul(d, x));
      w.backward(y);
      expectClose(await x.grad!.data(), xs);
      const h = w.mul(x, 2);
      const hd = w.detach(h);
      expect(hd.gradFn).toBeNull();
      expect(await hd.toArray()).toEqual(xs.map((v) => 2 * v));
      for (const t of [x, d, y, h, hd]) t.dispose();
    });
  });

  describe('grad()', () => {
    it('returns gradients of intermediate tensors and leaves, and touches no .grad', async () => {
      const xs = [1, 2, -1];
      const x = leaf(xs);
      const h = w.mul(x, 2); // h = 2x
      const y = w.sum(w.mul(h, h)); // y = sum h^2
      const [gh, gx] = w.grad(y, [h, x], { retainGraph: true });
      expectClose(await take(gh!), xs.map((v) => 4 * v)); // dy/dh = 2h = 4x
      expectClose(await take(gx!), xs.map((v) => 8 * v)); // dy/dx = 8x
      expect(x.grad).toBeNull();
      expect(h.grad).toBeNull();
      // A second call on the retained graph gives the same, then backward still works.
      const [gx2] = w.grad(y, [x], { retainGraph: true });
      expectClose(await take(gx2!), xs.map((v) => 8 * v));
      expect(x.grad).toBeNull();
      w.backward(y);
      expectClose(await x.grad!.data(), xs.map((v) => 8 * v));
      for (const t of [x, h, y]) t.dispose();
    });

    it('does not change an existing .grad', async () => {
      const x = leaf([1, 2]);
      w.backward(w.sum(w.mul(x, 5)));
      expect(await x.grad!.toArray()).toEqual([5, 5]);
      const [g] = w.grad(w.sum(w.mul(x, x)), [x]);
      expect(await take(g!)).toEqual([2, 4]);
      expect(await x.grad!.toArray()).toEqual([5, 5]);
      x.dispose();
    });

    it('several outputs sum their gradients; gradOutputs seeds non-scalar outputs', async () => {
      const x = leaf([1, 2]);
      const a = w.sum(w.mul(x, x)); // 2x
      const b = w.sum(w.mul(x, 3)); // 3
      const [g] = w.grad([a, b], [x]);
      expect(await take(g!)).toEqual([5, 7]);
      const v = w.mul(x, x);
      expect(() => w.grad(v, [x])).toThrow(w.GradError);
      const seed = w.fromArray([10, -1]);
      const [gv] = w.grad(v, [x], { gradOutputs: [seed] });
      expect(await take(gv!)).toEqual([20, -4]);
      expect(await take(seed)).toEqual([10, -1]);
      for (const t of [x, a, b, v]) t.dispose();
    });

    it('the output itself as an input gets the seed (a copy the caller owns)', async () => {
      const x = leaf([1, 2]);
      const y = w.sum(w.mul(x, x));
      const [gy] = w.grad(y, [y], { retainGraph: true });
      expect(await take(gy!)).toEqual([1]);
      const seed = w.scalar(4);
      const [gy2] = w.grad(y, [y], { gradOutputs: [seed] });
      expect(gy2).not.toBe(seed);
      gy2!.dispose();
      expect(await take(seed)).toEqual([4]);
      x.dispose();
      y.dispose();
    });

    it('frees only the rules it ran: the graph below an intermediate target stays usable', async () => {
      const xs = [1, -2];
      const x = leaf(xs);
      const h = w.mul(x, x);
      const y = w.sum(w.mul(h, 3));
      const [gh] = w.grad(y, [h]);
      expect(await take(gh)).toEqual([3, 3]);
      expect(() => w.grad(y, [h])).toThrow(w.GradError);
      // h's own rule never ran, so a new root through h still reaches x.
      const z = w.sum(h);
      w.backward(z);
      expectClose(await x.grad!.data(), xs.map((v) => 2 * v));
      for (const t of [x, h, y, z]) t.dispose();
    });

    it('the same input listed twice gets two independent gradients', async () => {
      const x = leaf([1, 2]);
      const y = w.sum(w.mul(x, x));
      const [g1, g2] = w.grad(y, [x, x]);
      expect(g1).not.toBe(g2);
      expect(await take(g1)).toEqual([2, 4]);
      expect(await take(g2)).toEqual([2, 4]);
      x.dispose();
      y.dispose();
    });

    it('without retainGraph the part it ran is freed', () => {
      const x = leaf([1, 2]);
      const y = w.sum(w.mul(x, x));
      const [g] = w.grad(y, [x]);
      g!.dispose();
      expect(() => w.grad(y, [x])).toThrow(w.GradError);
      expect(() => w.backward(y)).toThrow(w.GradError);
      x.dispose();
      y.dispose();
    });

    it('allowUnused: unused inputs are a GradError unless allowed, then null', async () => {
      const x = leaf([1, 2]);
      const z = leaf([3, 4]);
      const c = w.fromArray([5, 6]);
      const y = w.sum(w.mul(x, x));
      expect(() => w.grad(y, [x, z], { retainGraph: true })).toThrow(w.GradError);
      expect(() => w.grad(y, [x, z], { retainGraph: true })).toThrow(/allowUnused/);
      const [gx, gz, gc] = w.grad(y, [x, z, c], { allowUnused: true });
      expect(await take(gx)).toEqual([2, 4]);
      expect(gz).toBeNull();
      expect(gc).toBeNull();
      for (const t of [x, z, c, y]) t.dispose();
    });

    it('a failed grad() call leaks no memory', () => {
      const x = leaf([1, 2]);
      const z = leaf([3, 4]);
      const y = w.sum(w.mul(x, x));
      const before = w.runtime().memory().live;
      expect(() => w.grad(y, [z], { retainGraph: true })).toThrow(w.GradError);
      expect(() => w.grad(y, [x, z], { retainGraph: true })).toThrow(w.GradError);
      const c = w.fromArray([1]);
      expect(() => w.grad(c, [x])).toThrow(w.GradError);
      expect(w.runtime().memory().live).toBe(before + 1);
      for (const t of [x, z, y, c]) t.dispose();
    });
  });

  describe('grad() runs only what it needs (custom ops via record())', () => {
    /**
     * Two branches joined by a custom op:
     *   a = A(x1)        b = B(x2, x3)
     *   y = J(a, b) = 2a + 3b, summed
     */
    function build(calls: Calls) {
      const x1 = leaf([1, 2]);
      const x2 = leaf([3, 4]);
      const x3 = leaf([5, 6]);
      const a = customLinear('A', [x1], [5], calls);
      const b = customLinear('B', [x2, x3], [7, 11], calls);
      const j = customLinear('J', [a, b], [2, 3], calls);
      const y = w.sum(j);
      return { x1, x2, x3, a, b, j, y, all: [x1, x2, x3, a, b, j, y] };
    }

    it('asks the join only for the requested branch and never runs the other', async () => {
      const calls: Calls = [];
      const g = build(calls);
      const [g1] = w.grad(g.y, [g.x1]);
      expect(await take(g1)).toEqual([10, 10]); // 2 * 5
      expect(calls).toEqual([
        { op: 'J', needs: [true, false] },
        { op: 'A', needs: [true] },
      ]);
      g.all.forEach((t) => t.dispose());
    });

    it('asks a two-input rule only for the input that leads to a requested tensor', async () => {
      const calls: Calls = [];
      const g = build(calls);
      const [g3] = w.grad(g.y, [g.x3]);
      expect(await take(g3)).toEqual([33, 33]); // 3 * 11
      expect(calls).toEqual([
        { op: 'J', needs: [false, true] },
        { op: 'B', needs: [false, true] },
      ]);
      g.all.forEach((t) => t.dispose());
    });

    it('stops at an intermediate target', async () => {
      const calls: Calls = [];
      const g = build(calls);
      const [ga] = w.grad(g.y, [g.a]);
      expect(await take(ga)).toEqual([2, 2]);
      expect(calls).toEqual([{ op: 'J', needs: [true, false] }]);
      g.all.forEach((t) => t.dispose());
    });

    it('an input that does not require gradients is never asked for', async () => {
      const calls: Calls = [];
      const p = leaf([1, 2]);
      const q = w.fromArray([3, 4]);
      const y = w.sum(customLinear('P', [p, q], [2, 3], calls));
      w.backward(y);
      expect(calls).toEqual([{ op: 'P', needs: [true, false] }]);
      expect(await p.grad!.toArray()).toEqual([2, 2]);
      for (const t of [p, q, y]) t.dispose();
    });

    it('backward() runs every rule once', async () => {
      const calls: Calls = [];
      const g = build(calls);
      w.backward(g.y);
      expect(calls.map((c) => c.op).sort()).toEqual(['A', 'B', 'J']);
      expect(calls.every((c) => c.needs.every(Boolean))).toBe(true);
      expect(await g.x1.grad!.toArray()).toEqual([10, 10]);
      expect(await g.x2.grad!.toArray()).toEqual([21, 21]);
      expect(await g.x3.grad!.toArray()).toEqual([33, 33]);
      g.all.forEach((t) => t.dispose());
    });

    it('a rule may return one tensor for several inputs, needed or not', async () => {
      const x = leaf([1, 2]);
      const z = leaf([3, 4]);
      const y0 = w.noGrad(() => w.add(x, z));
      const y = w.record('shared', [z, x], y0, [], (gy) => {
        const g = w.mul(gy, 1);
        return [g, g];
      });
      const [gx] = w.grad(w.sum(y), [x], { retainGraph: true });
      expect(await take(gx)).toEqual([1, 1]);
      const [gz, gx2] = w.grad(w.sum(y), [z, x]);
      expect(await take(gz)).toEqual([1, 1]);
      expect(await take(gx2)).toEqual([1, 1]);
      for (const t of [x, z, y]) t.dispose();
    });

    it('a rule returning a gradient of the wrong shape is a GradError, and leaks nothing', () => {
      const x = leaf([1, 2]);
      const y = w.record('bad-shape', [x], w.noGrad(() => w.mul(x, 1)), [], () => [w.ones([3])]);
      const s1 = w.sum(y);
      const s2 = w.sum(y);
      const before = w.runtime().memory().live;
      expect(() => w.backward(s1)).toThrow(w.GradError);
      expect(() => w.backward(s2)).toThrow(/bad-shape/);
      expect(w.runtime().memory().live).toBe(before);
      expect(x.grad).toBeNull();
      for (const t of [x, y, s1, s2]) t.dispose();
    });

    it('a rule that throws leaves no gradients behind', () => {
      const x = leaf([1, 2]);
      const h = w.mul(x, 3);
      const y = w.record('throws', [h], w.noGrad(() => w.mul(h, 1)), [], () => {
        throw new RangeError('rule failed');
      });
      const z = w.sum(w.add(w.mul(h, 2), y));
      const before = w.runtime().memory().live;
      expect(() => w.backward(z)).toThrow(RangeError);
      expect(w.runtime().memory().live).toBe(before);
      for (const t of [x, h, y, z]) t.dispose();
    });
  });

  describe('gradcheck', () => {
    /** x*x as a custom op whose backward is `rule`. */
    const square = (rule: (x: w.Tensor, gy: w.Tensor) => w.Tensor) => (x: w.Tensor) =>
      w.record('square', [x], w.noGrad(() => w.mul(x, x)), [x], (gy) => [rule(x, gy)]);
    const input = [{ data: [0.5, -1.5, 2, 1.25, -0.75, 3], shape: [2, 3] }];

    it('accepts a correct rule', async () => {
      // d(x^2) = 2x dx
      const bad = await w.gradcheck(square((x, gy) => w.mul(w.mul(gy, x), 2)), input);
      expect(bad).toEqual([]);
    });

    it('reports a deliberately wrong rule (missing factor 2)', async () => {
      const bad = await w.gradcheck(square((x, gy) => w.mul(gy, x)), input);
      expect(bad.length).toBeGreaterThan(0);
      for (const m of bad) expect(m.analytic).toBeCloseTo(m.numeric / 2, 2);
    });

    it('reports a rule with the wrong sign on one element only', async () => {
      const flip = w.fromArray([1, 1, 1, 1, -1, 1], [2, 3]);
      const bad = await w.gradcheck(square((x, gy) => w.mul(w.mul(w.mul(gy, x), 2), flip)), input);
      expect(bad.map((m) => m.index)).toEqual([4]);
      flip.dispose();
    });

    it('frees everything it creates', async () => {
      const before = w.runtime().memory().live;
      await w.gradcheck((a, b) => w.sum(w.mul(w.add(a, b), a), 1), [
        { data: [1, 2, 3, 4], shape: [2, 2] },
        { data: [5, 6], shape: [2] },
      ]);
      expect(w.runtime().memory().live).toBe(before);
    });

    it('reports an input whose gradient is missing', async () => {
      const dropSecond = (a: w.Tensor, b: w.Tensor) =>
        w.record('drop', [a, b], w.noGrad(() => w.mul(a, b)), [a, b], (gy, needs) => [needs[0] ? w.mul(gy, b) : null, null]);
      const bad = await w.gradcheck(dropSecond, [
        { data: [1, 2, 3], shape: [3] },
        { data: [4, 5, 6], shape: [3] },
      ]);
      expect(bad.length).toBe(3);
      expect(bad.every((m) => m.input === 1 && m.analytic === 0)).toBe(true);
    });
  });
});
