import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { matmulRaw, type MatmulVariant } from '../../src/ops/kernels/matmul.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as R from '../reference/ndarray.js';

/** torch.matmul on the reference arrays: a 1-D a is a row vector, a 1-D b a column vector. */
function refMatmul(a: R.ND, b: R.ND): R.ND {
  const a2 = a.rank === 1 ? R.reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? R.reshape(b, [b.shape[0]!, 1]) : b;
  const y = R.matmul(a2, b2);
  let shape = y.shape;
  if (a.rank === 1) shape = shape.filter((_, i) => i !== y.rank - 2);
  if (b.rank === 1) shape = shape.slice(0, -1);
  return R.reshape(y, shape);
}

/** Swaps the last two dims. */
function refT(x: R.ND): R.ND {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1]!, perm[x.rank - 2]!];
  return R.permute(x, perm);
}

/** f32 accumulation over k terms of size ~1: error grows like sqrt(k). */
function tol(k: number): { atol: number; rtol: number } {
  const s = Math.sqrt(Math.max(k, 1));
  return { atol: 1e-4 * s, rtol: 1e-4 * s };
}

// The product is linear in each operand, so central differences are exact up to rounding; a wide
// step keeps the f32 rounding of the objective small relative to the difference.
const gradOpts = { eps: 0.25 };

/** Forward against the reference, gradients against finite differences. */
async function check(shapeA: readonly number[], shapeB: readonly number[], grad = true): Promise<void> {
  await checkOp({
    inputs: [shapeA, shapeB],
    fn: (a, b) => w.matmul(a, b),
    ref: refMatmul,
    grad,
    gradOpts,
    ...tol(shapeA[shapeA.length - 1]!),
  });
}

/**
 * Full gradients (every element, not a few probes) against the reference: dA = G B^T and
 * dB = A^T G summed over broadcast batch dims. This covers the transposed kernels at every size.
 */
async function checkFullGrads(shapeA: readonly number[], shapeB: readonly number[]): Promise<void> {
  const [ha, hb] = makeInputs([shapeA, shapeB], 3);
  const want = R.matmul(ha!, hb!);
  const [hg] = makeInputs([want.shape], 4);
  const a = w.fromArray(ha!.data, ha!.shape, { requiresGrad: true });
  const b = w.fromArray(hb!.data, hb!.shape, { requiresGrad: true });
  const g = w.fromArray(hg!.data, hg!.shape);
  const y = w.matmul(a, b);
  const [da, db] = w.grad(y, [a, b], { gradOutputs: [g] });
  const m = want.shape[want.rank - 2]!;
  const n = want.shape[want.rank - 1]!;
  const wantA = R.sumTo(R.matmul(hg!, refT(hb!)), ha!.shape);
  const wantB = R.sumTo(R.matmul(refT(ha!), hg!), hb!.shape);
  expect([...da!.shape]).toEqual(ha!.shape);
  expect([...db!.shape]).toEqual(hb!.shape);
  // Each gradient element sums over n (or m) products times the batch entries that share it.
  const k = ha!.shape[ha!.rank - 1]!;
  const batches = want.size / (m * n);
  const ta = tol((n * batches) / (ha!.size / (m * k)));
  const tb = tol((m * batches) / (hb!.size / (k * n)));
  expectClose(await da!.data(), wantA.data, ta.atol, ta.rtol, 'dA');
  expectClose(await db!.data(), wantB.data, tb.atol, tb.rtol, 'dB');
  for (const t of [a, b, g, y, da!, db!]) t.dispose();
}

/**
 * One raw kernel run against the reference: C[b] = op(A[b]) op(B[b]) with op(A) m x k, op(B) k x n,
 * A stored transposed when transA, and an operand shared by all batch entries when `shareA`/`shareB`.
 */
async function checkKernel(
  variant: MatmulVariant,
  [batch, m, k, n]: readonly number[],
  transA: boolean,
  transB: boolean,
  shareA = false,
  shareB = false,
): Promise<void> {
  const sa = [shareA ? 1 : batch!, ...(transA ? [k!, m!] : [m!, k!])];
  const sb = [shareB ? 1 : batch!, ...(transB ? [n!, k!] : [k!, n!])];
  const [ha, hb] = makeInputs([sa, sb], 5);
  const opA = transA ? refT(ha!) : ha!;
  const opB = transB ? refT(hb!) : hb!;
  // Adding zeros of shape [batch, 1, 1] broadcasts the reference when both operands are shared.
  const want = R.map2(R.matmul(opA, opB), R.ND.fill([batch!, 1, 1], 0), (u, v) => u + v);
  const a = w.fromArray(ha!.data, ha!.shape);
  const b = w.fromArray(hb!.data, hb!.shape);
  const plan = { batch: batch!, m: m!, n: n!, k: k!, transA, transB, strideA: shareA ? 0 : m! * k!, strideB: shareB ? 0 : k! * n! };
  const y = matmulRaw(a, b, plan, [batch!, m!, n!], variant);
  const t = tol(k!);
  expectClose(await y.data(), want.data, t.atol, t.rtol, `${variant} ${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'}`);
  for (const x of [a, b, y]) x.dispose();
}

describe.each(devices())('matmul kernels on %s', () => {
  // [batch, m, k, n]: odd sizes, multiples of 4 that are not of 16, and a single row or column.
  const shapes: number[][] = [
    [1, 1, 1, 1],
    [1, 3, 5, 7],
    [1, 17, 13, 9],
    [2, 33, 65, 31],
    [1, 16, 16, 16],
    [1, 36, 20, 44],
    [3, 20, 8, 12],
    [1, 1, 40, 37],
    [1, 37, 40, 1],
  ];
  const variants: MatmulVariant[] = ['general', 'outer', 'tiled'];
  describe.each(variants)('%s', (variant) => {
    it.each(shapes)('batch %i, %i x %i x %i, every transpose', async (...shape) => {
      for (const transA of [false, true]) for (const transB of [false, true]) await checkKernel(variant, shape, transA, transB);
    });
    it('a batch stride of 0 broadcasts an operand', async () => {
      await checkKernel(variant, [3, 19, 11, 21], false, false, true, false);
      await checkKernel(variant, [3, 19, 11, 21], true, true, false, true);
      await checkKernel(variant, [2, 20, 12, 24], true, false, true, true);
    });
  });
});

describe.each(devices())('matmul on %s', () => {
  describe('2-D', () => {
    const sizes: [number, number, number][] = [
      [1, 1, 1],
      [3, 5, 7],
      [17, 13, 9],
      [33, 65, 31],
      [4, 8, 12], // all multiples of 4
      [16, 16, 16],
      [5, 4, 8], // k and n multiples of 4, m not
      [8, 12, 5], // n not a multiple of 4
      [8, 6, 12], // k not a multiple of 4
      [2, 64, 3],
    ];
    it.each(sizes)('%i x %i x %i (m x k x n)', async (m, k, n) => {
      await check([m, k], [k, n]);
    });
  });

  describe('vectors', () => {
    it('1-D @ 2-D', async () => {
      await check([7], [7, 5]);
      await check([8], [8, 12]);
    });
    it('2-D @ 1-D', async () => {
      await check([5, 7], [7]);
      await check([12, 8], [8]);
    });
    it('1-D @ 1-D', async () => {
      await check([9], [9]);
      await check([16], [16]);
    });
    it('1-D with batched operands', async () => {
      await check([7], [2, 7, 6]);
      await check([2, 5, 7], [7]);
    });
  });

  describe('batched and broadcast', () => {
    it('[b,m,k] @ [b,k,n]', async () => {
      await check([3, 5, 7], [3, 7, 6]);
      await check([2, 8, 12], [2, 12, 16]);
    });
    it('[2,1,m,k] @ [3,k,n] broadcasts both batch dims', async () => {
      await check([2, 1, 5, 7], [3, 7, 6]);
      await check([2, 1, 4, 8], [3, 8, 12]);
    });
    it('[b,m,k] @ [k,n] and [m,k] @ [b,k,n]', async () => {
      await check([4, 5, 7], [7, 6]);
      await check([5, 7], [4, 7, 6]);
      await check([3, 8, 16], [16, 8]);
    });
  });

  describe('full gradients against the reference', () => {
    const cases: [number[], number[]][] = [
      [[37, 41], [41, 29]],
      [[64, 48], [48, 80]],
      [[3, 20, 36], [36, 44]],
      [[2, 1, 9, 16], [3, 16, 12]],
      [[33, 64], [64, 1]],
      [[1, 64], [64, 33]],
      // large enough for the fast kernel, odd and unaligned sizes
      [[131, 45], [45, 83]],
      [[96, 80], [80, 112]],
      [[2, 1, 36, 40], [3, 40, 52]],
      // a B shared by the batch: dB is one product over batch entries and rows together
      [[3, 5, 7], [1, 7, 6]],
      [[4, 48, 40], [40, 56]],
    ];
    it.each(cases)('%j @ %j', async (sa, sb) => {
      await checkFullGrads(sa, sb);
    });
  });

  describe('larger forward', () => {
    const cases: [number[], number[]][] = [
      [[128, 96], [96, 200]],
      [[130, 101], [101, 203]],
      [[3, 64, 128], [128, 96]],
      [[2, 40, 256], [2, 256, 36]],
    ];
    it.each(cases)('%j @ %j', async (sa, sb) => {
      await check(sa, sb, false);
    });
  });

  it('an empty inner dimension gives zeros', async () => {
    const a = w.fromArray([], [3, 0]);
    const b = w.fromArray([], [0, 4]);
    const y = w.matmul(a, b);
    expect([...y.shape]).toEqual([3, 4]);
    expect(Array.from(await y.data())).toEqual(new Array(12).fill(0));
    for (const t of [a, b, y]) t.dispose();
  });

  describe('errors', () => {
    it('inner-dimension mismatch names matmul and both shapes', () => {
      const a = w.zeros([2, 3]);
      const b = w.zeros([4, 5]);
      expect(() => w.matmul(a, b)).toThrow(w.ShapeError);
      expect(() => w.matmul(a, b)).toThrow(/matmul.*\[2,3\].*\[4,5\]/);
      a.dispose();
      b.dispose();
    });
    it('a 0-d operand is a ShapeError', () => {
      const s = w.scalar(2);
      const b = w.zeros([3]);
      expect(() => w.matmul(s, b)).toThrow(w.ShapeError);
      expect(() => w.matmul(b, s)).toThrow(/matmul/);
      s.dispose();
      b.dispose();
    });
    it('an i32 operand is a DTypeError', () => {
      const a = w.fromArray(new Int32Array([1, 2, 3, 4]), [2, 2]);
      const b = w.zeros([2, 2]);
      expect(() => w.matmul(a, b)).toThrow(w.DTypeError);
      expect(() => w.matmul(b, a)).toThrow(/matmul/);
      a.dispose();
      b.dispose();
    });
    it('batch dims that do not broadcast are a ShapeError', () => {
      const a = w.zeros([2, 3, 4]);
      const b = w.zeros([3, 4, 5]);
      expect(() => w.matmul(a, b)).toThrow(w.ShapeError);
      a.dispose();
      b.dispose();
    });
  });
});
