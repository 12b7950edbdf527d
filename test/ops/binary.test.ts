/**
 * Elementwise binary ops with broadcasting: forward against float64 references and gradients
 * (including the sums that undo broadcasting) against finite differences; comparisons, where, and
 * the errors for bad input.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, type InputSpec } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';
import { awayFromZero, gridValues, randomShape } from './random-shapes.js';

/** C's pow (PyTorch): 1^y = 1, x^0 = 1 (even for NaN) and (-1)^+-inf = 1; otherwise JavaScript's ** agrees. */
const cpow = (x: number, y: number) => (x === 1 || y === 0 || (x === -1 && Math.abs(y) === Infinity) ? 1 : x ** y);

/** Shape pairs covering every broadcasting situation. */
const FIXED_PAIRS: [number[], number[]][] = [
  [[3, 5], [3, 5]], // equal shapes (the vec4 fast path, 15 elements: a ragged tail)
  [[7], [7]],
  [[], []], // both scalar-shaped
  [[], [3, 4]], // scalar-shaped on the left
  [[2, 3], []], // ... and on the right
  [[3, 1], [1, 4]], // size-1 dims on both sides
  [[1, 5], [4, 5]],
  [[4, 5], [4, 1]],
  [[2, 3, 4], [4]], // rank differences
  [[5], [2, 1, 5]],
  [[3, 1, 5], [4, 1]], // odd sizes, stretched on both sides
  [[2, 1, 3, 1], [4, 1, 5]],
  [[1], [2, 3]],
];

/** Random broadcast-compatible pairs: b is a with some dims set to 1 and some leading dims dropped. */
function randomPairs(seed: number, n: number): [number[], number[]][] {
  const g = new w.Generator(seed);
  return Array.from({ length: n }, () => {
    const a = randomShape(g, 1 + Math.floor(g.next() * 4));
    const b = a.map((d) => (g.next() < 0.4 ? 1 : d)).slice(Math.floor(g.next() * a.length));
    return g.next() < 0.5 ? [a, b] : [b, a];
  });
}

const PAIRS = [...FIXED_PAIRS, ...randomPairs(5, 5)];

type Gen = (g: w.Generator, shape: number[], side: 0 | 1) => InputSpec;
const uniformValues = (g: w.Generator, n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + (hi - lo) * g.next());
const uniform =
  (lo: number, hi: number): Gen =>
  (g, shape) => ({ shape, values: uniformValues(g, R.size(shape), lo, hi) });

interface BinaryCase {
  name: string;
  fn: (a: w.Tensor, b: w.Tensor) => w.Tensor;
  ref: (u: number, v: number) => number;
  gen: Gen;
}

const ARITH: BinaryCase[] = [
  { name: 'add', fn: w.add, ref: (u, v) => u + v, gen: uniform(-2, 2) },
  { name: 'sub', fn: w.sub, ref: (u, v) => u - v, gen: uniform(-2, 2) },
  { name: 'mul', fn: w.mul, ref: (u, v) => u * v, gen: uniform(-2, 2) },
  // Divisors keep |b| >= 0.4 (no pole nearby).
  { name: 'div', fn: w.div, ref: (u, v) => u / v, gen: (g, shape, side) => ({ shape, values: side === 0 ? uniformValues(g, R.size(shape), -2, 2) : awayFromZero(g, R.size(shape), 0.4, 2) }) },
  // Positive bases (log a in the exponent's gradient), exponents of both signs.
  { name: 'pow', fn: w.pow, ref: cpow, gen: (g, shape, side) => uniform(side === 0 ? 0.5 : -2, 2)(g, shape, side) },
  // a on the grid k/10 + 0.05, b on k/10: never within 0.05 of each other, so no kinks for finite differences.
  { name: 'maximum', fn: w.maximum, ref: Math.max, gen: (g, shape, side) => ({ shape, values: gridValues(g, R.size(shape), { offset: side === 0 ? 0.5 : 0 }) }) },
  { name: 'minimum', fn: w.minimum, ref: Math.min, gen: (g, shape, side) => ({ shape, values: gridValues(g, R.size(shape), { offset: side === 0 ? 0.5 : 0 }) }) },
];

/** f(a, b) for host values, read back and freed. */
async function run2(f: (a: w.Tensor, b: w.Tensor) => w.Tensor, a: R.ND, b: R.ND): Promise<Float32Array> {
  const ta = w.fromArray(a.data, a.shape);
  const tb = w.fromArray(b.data, b.shape);
  const y = f(ta, tb);
  expect([...y.shape]).toEqual(R.broadcastShape(a.shape, b.shape));
  const out = (await y.data()) as Float32Array;
  [ta, tb, y].forEach((t) => t.dispose());
  return out;
}

describe.each(devices())('binary ops on %s', () => {
  describe.each(ARITH)('$name', (c) => {
    it.each(PAIRS)('[%j] with [%j]: forward and gradients (sumTo for broadcast dims)', async (sa, sb) => {
      const g = new w.Generator(R.size(sa) * 31 + R.size(sb) + c.name.length);
      await checkOp({
        inputs: [c.gen(g, sa, 0), c.gen(g, sb, 1)],
        fn: c.fn,
        ref: (a, b) => R.map2(a, b, c.ref),
      });
    });
  });

  it('a number as second operand (add, sub, mul, div, pow) matches the reference, with gradients', async () => {
    const cases: [string, (a: w.Tensor) => w.Tensor, (v: number) => number][] = [
      ['add 2.5', (a) => w.add(a, 2.5), (v) => v + 2.5],
      ['add 0', (a) => w.add(a, 0), (v) => v],
      ['sub -1.5', (a) => w.sub(a, -1.5), (v) => v + 1.5],
      ['mul -3', (a) => w.mul(a, -3), (v) => v * -3],
      ['mul 0', (a) => w.mul(a, 0), () => 0],
      ['div 4', (a) => w.div(a, 4), (v) => v / 4],
      ['div -0.3', (a) => w.div(a, -0.3), (v) => v / -0.3],
      ['div 3', (a) => w.div(a, 3), (v) => v / 3],
      ['pow 3', (a) => w.pow(a, 3), (v) => v ** 3],
    ];
    const g = new w.Generator(3);
    for (const [name, fn, ref] of cases) {
      const shape = randomShape(g, 3);
      await checkOp({ inputs: [shape], fn, ref: (a) => R.map(a, ref), seed: name.length });
    }
  });

  it('division by zero and by a zero number gives +-inf and NaN as IEEE', async () => {
    const a = R.ND.from([1, -1, 0, 2], [4]);
    const z = R.ND.from([0, 0, 0, -0], [4]);
    expectClose(await run2(w.div, a, z), [Infinity, -Infinity, NaN, -Infinity]);
    const ta = w.fromArray(a.data, [4]);
    const y = w.div(ta, 0);
    expectClose(await y.data(), [Infinity, -Infinity, NaN, Infinity]);
    ta.dispose();
    y.dispose();
  });

  it('pow follows C on special values (0^-2 = inf, (-2)^3 = -8, (-2)^0.5 = NaN, x^0 = 1, NaN)', async () => {
    const bases = [0, -0, 1, -1, 2, -2, 0.5, -0.5, NaN, Infinity, -Infinity];
    const exps = [-3, -2, -0.5, 0, 0.5, 1, 2, 3, NaN, Infinity, -Infinity];
    const a = R.ND.from(bases, [bases.length, 1]);
    const b = R.ND.from(exps, [exps.length]);
    // Both broadcast (the strided kernel) and equal shapes (the vec4 kernel).
    expectClose(await run2(w.pow, a, b), Float32Array.from(R.map2(a, b, cpow).data), 1e-6, 1e-5, 'pow broadcast');
    const ea = R.broadcastTo(a, [bases.length, exps.length]);
    const eb = R.broadcastTo(b, [bases.length, exps.length]);
    expectClose(await run2(w.pow, ea, eb), Float32Array.from(R.map2(ea, eb, cpow).data), 1e-6, 1e-5, 'pow same shape');
  });

  it('pow gradients at a = 0 and b = 0 follow PyTorch (0, not NaN); negative bases give NaN for db', async () => {
    const av = [0, 0, 2, -2, 0, 3];
    const bv = [2, 0, 1, 2, -1, 0];
    const a = w.fromArray(av, [6], { requiresGrad: true });
    const b = w.fromArray(bv, [6], { requiresGrad: true });
    const [ga, gb] = w.grad(w.sum(w.pow(a, b)), [a, b]);
    // torch: da = b a^(b-1), masked to 0 where b == 0; db = a^b log a, masked to 0 where a == 0 and b >= 0.
    const wantA = av.map((x, i) => (bv[i] === 0 ? 0 : bv[i]! * cpow(x, bv[i]! - 1)));
    const wantB = av.map((x, i) => (x === 0 && bv[i]! >= 0 ? 0 : cpow(x, bv[i]!) * Math.log(x)));
    expectClose(await ga!.data(), wantA, 1e-5, 1e-5, 'd/da');
    expectClose(await gb!.data(), wantB, 1e-5, 1e-5, 'd/db');
    [a, b, ga!, gb!].forEach((t) => t.dispose());
  });

  it('maximum and minimum propagate NaN from either side', async () => {
    const a = R.ND.from([1, NaN, 3, NaN, -2, 5, NaN], [7]);
    const b = R.ND.from([NaN, 2, 1, NaN, -3, 5, Infinity], [7]);
    expectClose(await run2(w.maximum, a, b), R.map2(a, b, Math.max).data, 0, 0, 'maximum');
    expectClose(await run2(w.minimum, a, b), R.map2(a, b, Math.min).data, 0, 0, 'minimum');
    const col = R.ND.from([NaN, 0, 2], [3, 1]);
    expectClose(await run2(w.maximum, col, b), R.map2(col, b, Math.max).data, 0, 0, 'maximum broadcast');
  });

  it('maximum and minimum split the gradient evenly at ties (with broadcasting)', async () => {
    const av = [1, 2, 3];
    const bv = [1, 3, 2, 3];
    for (const [name, f, win] of [
      ['maximum', w.maximum, (u: number, v: number) => u > v],
      ['minimum', w.minimum, (u: number, v: number) => u < v],
    ] as const) {
      const a = w.fromArray(av, [3, 1], { requiresGrad: true });
      const b = w.fromArray(bv, [4], { requiresGrad: true });
      const [ga, gb] = w.grad(w.sum(f(a, b)), [a, b]);
      const A = R.ND.from(av, [3, 1]);
      const B = R.ND.from(bv, [4]);
      const share = (u: number, v: number) => (win(u, v) ? 1 : u === v ? 0.5 : 0);
      expectClose(await ga!.data(), R.sumTo(R.map2(A, B, share), [3, 1]).data, 1e-6, 0, `${name} da`);
      expectClose(await gb!.data(), R.sumTo(R.map2(A, B, (u, v) => share(v, u)), [4]).data, 1e-6, 0, `${name} db`);
      [a, b, ga!, gb!].forEach((t) => t.dispose());
    }
  });

  it('the same tensor on both sides (x * x, x - x) has the right gradient', async () => {
    await checkOp({ inputs: [[3, 5]], fn: (a) => w.mul(a, a), ref: (a) => R.map(a, (v) => v * v) });
    await checkOp({ inputs: [[7]], fn: (a) => w.sub(a, a), ref: (a) => R.map(a, () => 0) });
  });

  it('rank above 8 broadcasts when its pattern merges to at most 8 dims; otherwise ShapeError', async () => {
    const pairs: [number[], number[]][] = [
      [[1, 1, 1, 1, 1, 1, 1, 1, 2, 3], [2, 1, 3]],
      [[2, 2, 2, 2, 2, 2, 2, 2, 2, 3], [3]],
      [[2, 1, 2, 1, 2, 1, 2, 1], [1, 2, 1, 2, 1, 2, 1, 2]], // exactly 8 alternating dims
    ];
    for (const [sa, sb] of pairs) {
      await checkOp({ inputs: [sa, sb], fn: w.add, ref: (a, b) => R.map2(a, b, (u, v) => u + v), grad: false });
      const c = w.ones(sa);
      const z = w.zeros(sb);
      const y = w.where(c, z, c);
      expect([...y.shape]).toEqual(R.broadcastShape(sa, sb));
      expect((await y.toArray()).every((v) => v === 0)).toBe(true);
      [c, z, y].forEach((t) => t.dispose());
    }
    const a = w.zeros([2, 1, 2, 1, 2, 1, 2, 1, 2]);
    const b = w.zeros([1, 2, 1, 2, 1, 2, 1, 2, 1]);
    expect(() => w.add(a, b)).toThrow(w.ShapeError);
    expect(() => w.add(a, b)).toThrow(/^add: .*more than the 8 supported/);
    [a, b].forEach((t) => t.dispose());
  });

  it('empty tensors broadcast to empty results', async () => {
    const a = w.zeros([0, 3]);
    const b = w.ones([3]);
    for (const f of [w.add, w.mul, w.maximum, w.lt]) {
      const y = f(a, b);
      expect([...y.shape]).toEqual([0, 3]);
      y.dispose();
    }
    const y = w.where(b, a, b);
    expect([...y.shape]).toEqual([0, 3]);
    [a, b, y].forEach((t) => t.dispose());
  });

  it('outputs beyond 65535 workgroups (a 2-D dispatch grid) are computed everywhere', async () => {
    // 2^22 + 5 outputs: where runs one invocation per output, so 65537 workgroups of 64.
    const n = (1 << 22) + 5;
    const cv = new Float32Array(n);
    for (let i = 0; i < n; i += 3) cv[i] = 1;
    const cond = w.fromArray(cv, [n]);
    const a = w.arange(0, n, 1, { dtype: 'f32' });
    const b = w.full([1], -1);
    const y = w.where(cond, a, b);
    const got = await y.data();
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (got[i] !== (i % 3 === 0 ? Math.fround(i) : -1)) bad = i;
    expect(bad, `first wrong index (got ${got[bad]})`).toBe(-1);
    [cond, a, b, y].forEach((t) => t.dispose());
  });

  describe('comparisons', () => {
    const OPS = [
      ['eq', w.eq, (u: number, v: number) => u === v],
      ['ne', w.ne, (u: number, v: number) => u !== v],
      ['lt', w.lt, (u: number, v: number) => u < v],
      ['le', w.le, (u: number, v: number) => u <= v],
      ['gt', w.gt, (u: number, v: number) => u > v],
      ['ge', w.ge, (u: number, v: number) => u >= v],
    ] as const;

    it.each(OPS)('%s with broadcasting, ties and NaN (forward, f32 0/1, no gradient)', async (_name, f, ref) => {
      // Small integers make ties frequent; NaN compares false except for ne.
      for (const [sa, sb] of [...FIXED_PAIRS, ...randomPairs(9, 3)]) {
        const g = new w.Generator(R.size(sa) + 7 * R.size(sb));
        const vals = (n: number) => Array.from({ length: n }, () => (g.next() < 0.1 ? NaN : Math.floor(g.next() * 5) - 2));
        const a = R.ND.from(vals(R.size(sa)), sa);
        const b = R.ND.from(vals(R.size(sb)), sb);
        expectClose(await run2(f, a, b), R.map2(a, b, (u, v) => (ref(u, v) ? 1 : 0)).data, 0, 0, `${sa} vs ${sb}`);
      }
      const x = w.fromArray([0, 1, 2, NaN, -1], [5], { requiresGrad: true });
      for (const num of [1, 0.5, NaN]) {
        const y = f(x, num);
        expect(y.dtype).toBe('f32');
        expect(y.requiresGrad).toBe(false);
        expectClose(await y.data(), [0, 1, 2, NaN, -1].map((u) => (ref(u, num) ? 1 : 0)), 0, 0, `vs number ${num}`);
        y.dispose();
      }
      x.dispose();
    });
  });

  describe('where', () => {
    it('picks a where cond != 0 (NaN is true, -0 is false), with broadcasting over all three', async () => {
      const shapes: [number[], number[], number[]][] = [
        [[3, 4], [3, 4], [3, 4]],
        [[3, 1], [1, 4], []],
        [[2, 3, 4], [4], [3, 1]],
        [[5], [2, 1, 5], [1]],
      ];
      const specials = [0, 1, NaN, -0, 0.5, -2, Infinity];
      for (const [sc, sa, sb] of shapes) {
        const g = new w.Generator(R.size(sc) + R.size(sa));
        const c = R.ND.from(Array.from({ length: R.size(sc) }, (_, i) => specials[(i + Math.floor(g.next() * 3)) % specials.length]!), sc);
        const [a, b] = [sa, sb].map((s) => R.ND.from(g.uniform(R.size(s), -2, 2), s));
        const tc = w.fromArray(c.data, sc);
        const [ta, tb] = [a!, b!].map((t) => w.fromArray(t.data, t.shape));
        const y = w.where(tc, ta!, tb!);
        const want = R.map3(c, a!, b!, (cv, u, v) => (cv !== 0 ? u : v)); // NaN !== 0: true, as bool(nan)
        expect([...y.shape]).toEqual(want.shape);
        expectClose(await y.data(), want.data, 0, 0, `where ${sc} ${sa} ${sb}`);
        [tc, ta!, tb!, y].forEach((t) => t.dispose());
      }
    });

    it('gradients flow to the chosen side, summed over broadcast dims', async () => {
      const cases: [number[], number[], number[]][] = [
        [[3, 4], [3, 4], [3, 4]],
        [[3, 4], [4], [3, 1]],
        [[2, 1, 5], [3, 1], []],
      ];
      for (const [sc, sa, sb] of cases) {
        const g = new w.Generator(R.size(sc) * 3 + 1);
        const cv = Array.from({ length: R.size(sc) }, () => (g.next() < 0.5 ? 0 : 1));
        const cond = w.fromArray(cv, sc);
        const C = R.ND.from(cv, sc);
        await checkOp({
          inputs: [sa, sb],
          fn: (a, b) => w.where(cond, a, b),
          ref: (a, b) => R.map3(C, a, b, (c, u, v) => (c !== 0 ? u : v)),
          seed: R.size(sa),
        });
        cond.dispose();
      }
    });
  });

  describe('bad input', () => {
    const ALL = [
      ['add', w.add],
      ['sub', w.sub],
      ['mul', w.mul],
      ['div', w.div],
      ['pow', w.pow],
      ['maximum', w.maximum],
      ['minimum', w.minimum],
      ['eq', w.eq],
      ['ne', w.ne],
      ['lt', w.lt],
      ['le', w.le],
      ['gt', w.gt],
      ['ge', w.ge],
    ] as const;

    it('shapes that do not broadcast give ShapeError naming the op and both shapes', () => {
      const a = w.fromArray(new Array(6).fill(1), [2, 3]);
      const b = w.fromArray(new Array(6).fill(1), [3, 2]);
      const c = w.fromArray([1, 2, 3, 4], [4]);
      for (const [name, f] of ALL) {
        expect(() => f(a, b)).toThrow(w.ShapeError);
        expect(() => f(a, b)).toThrow(new RegExp(`^${name}: .*\\[2,3\\] and \\[3,2\\]`));
        expect(() => f(c, a)).toThrow(new RegExp(`^${name}: .*\\[4\\] and \\[2,3\\]`));
      }
      expect(() => w.where(c, a, a)).toThrow(w.ShapeError);
      expect(() => w.where(c, a, a)).toThrow(/^where: .*\[4\] and \[2,3\] and \[2,3\]/);
      expect(() => w.where(a, a, b)).toThrow(/^where: .*\[2,3\] and \[2,3\] and \[3,2\]/);
      [a, b, c].forEach((t) => t.dispose());
    });

    it('an i32 operand gives DTypeError naming the op, also with a number operand', () => {
      const i = w.fromArray(new Int32Array([1, 2, 3]), [3]);
      const f = w.fromArray([1, 2, 3], [3]);
      for (const [name, op] of ALL) {
        expect(() => op(i, f)).toThrow(w.DTypeError);
        expect(() => op(f, i)).toThrow(new RegExp(`^${name}: .*i32`));
      }
      for (const [name, op] of [['add', w.add], ['sub', w.sub], ['mul', w.mul], ['div', w.div], ['pow', w.pow], ['lt', w.lt]] as const) {
        expect(() => op(i, 2)).toThrow(new RegExp(`^${name}: .*i32`));
      }
      expect(() => w.where(f, i, f)).toThrow(w.DTypeError);
      [i, f].forEach((t) => t.dispose());
    });

    it('a disposed operand gives DisposedError naming the op, and leaks nothing', () => {
      const a = w.fromArray([1, 2, 3], [3]);
      const b = w.fromArray([1, 2, 3], [3]);
      const gone = w.fromArray([1, 2, 3], [3]);
      gone.dispose();
      const before = w.runtime().memory().live;
      expect(() => w.add(a, gone)).toThrow(w.DisposedError);
      expect(() => w.mul(gone, b)).toThrow(/^mul: tensor of shape \[3\] was already disposed/);
      expect(() => w.add(gone, 1)).toThrow(w.DisposedError);
      expect(() => w.lt(gone, 1)).toThrow(w.DisposedError);
      expect(() => w.where(a, gone, b)).toThrow(/^where: /);
      expect(w.runtime().memory().live).toBe(before);
      [a, b].forEach((t) => t.dispose());
    });
  });
});
