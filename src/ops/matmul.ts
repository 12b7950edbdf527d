/**
 * Differentiable matrix products with PyTorch's rules: 1-D operands are promoted (and the added
 * dim removed afterwards), batch dims broadcast. Transposes in backward are kernel flags, not copies
 * (the kernel layer decides whether its fast path needs a packed operand).
 */
import { ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { broadcastShapes, sizeOf, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';
import { requireF32 } from './kernels/util.js';
import { addFlops } from './flops.js';

/** An operand as a 3-D (batch, rows, cols) view; materialised when its batch dims need broadcasting. */
function asBatched(t: Tensor, batchShape: readonly number[]): { t: Tensor; stride: number; owned: boolean } {
  const rows = t.shape[t.rank - 2]!;
  const cols = t.shape[t.rank - 1]!;
  const own = t.shape.slice(0, -2);
  const n = sizeOf(batchShape);
  if (sizeOf(own) === 1) return { t, stride: n === 1 ? rows * cols : 0, owned: false };
  const padded = [...new Array(batchShape.length - own.length).fill(1), ...own];
  if (sameShape(padded, batchShape)) return { t, stride: rows * cols, owned: false };
  return { t: k.expand(t, [...batchShape, rows, cols]), stride: rows * cols, owned: true };
}

/**
 * The matrix product a @ b (torch.matmul semantics): [..., m, k] @ [..., k, n] -> [..., m, n]
 * with broadcast batch dims; a 1-D a is a row vector and a 1-D b a column vector.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireF32('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) throw new ShapeError('matmul', [a.shape, b.shape], 'operands must have at least one dimension');
  const a2 = a.rank === 1 ? a.view([1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? b.view([b.shape[0]!, 1]) : b;
  const m = a2.shape[a2.rank - 2]!;
  const kk = a2.shape[a2.rank - 1]!;
  const k2 = b2.shape[b2.rank - 2]!;
  const n = b2.shape[b2.rank - 1]!;
  if (kk !== k2) throw new ShapeError('matmul', [a.shape, b.shape], `inner dimensions ${kk} and ${k2} differ`);
  const batchShape = broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  const A = asBatched(a2, batchShape);
  const B = asBatched(b2, batchShape);
  const full = [...batchShape, m, n];
  addFlops('matmul', 2 * batch * m * n * kk);
  const y0 = k.matmulRaw(A.t, B.t, { batch, m, n, k: kk, transA: false, transB: false, strideA: A.stride, strideB: B.stride }, full);
  if (A.owned) A.t.dispose();
  if (B.owned) B.t.dispose();
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  let outShape = full;
  if (a.rank === 1) outShape = outShape.filter((_, i) => i !== full.length - 2);
  if (b.rank === 1) outShape = outShape.slice(0, -1);
  const y = outShape.length === full.length ? y0 : (() => {
    const v = y0.view(outShape);
    y0.dispose();
    return v;
  })();

  return record('matmul', [a, b], y, [a, b], (gy, needs) => {
    const g = gy.view(full);
    const out: (Tensor | null)[] = [null, null];
    const aFull = [...batchShape, m, kk];
    const bFull = [...batchShape, kk, n];
    if (needs[0]) {
      // dA = gy @ B^T, then summed over the batch dims A was broadcast along
      const bv = b.rank === 1 ? b.view([kk, 1]) : b;
      const Bb = asBatched(bv, batchShape);
      const da = k.matmulRaw(g, Bb.t, { batch, m, n: kk, k: n, transA: false, transB: true, strideA: m * n, strideB: Bb.stride }, aFull);
      if (Bb.owned) Bb.t.dispose();
      if (bv !== b) bv.dispose();
      out[0] = k.sumTo(da, a.rank === 1 ? [1, kk] : a.shape);
      da.dispose();
      if (a.rank === 1) out[0] = reshapeOwned(out[0], a.shape);
    }
    if (needs[1]) {
      // dB = A^T @ gy, then summed over the batch dims B was broadcast along
      const av = a.rank === 1 ? a.view([1, kk]) : a;
      const bShared = b.rank <= 2 || sizeOf(b.shape.slice(0, -2)) === 1;
      if (batch > 1 && bShared && sizeOf(av.shape.slice(0, -2)) === batch) {
        // One B for every batch entry (a linear layer's weight): sum_b A_b^T G_b is a single product
        // whose inner dimension runs over batch entries and rows together; no [batch, k, n] temporary.
        const db = k.matmulRaw(av, g, { batch: 1, m: kk, n, k: batch * m, transA: true, transB: false, strideA: 0, strideB: 0 }, [kk, n]);
        out[1] = reshapeOwned(db, b.shape);
      } else {
        const Ab = asBatched(av, batchShape);
        const db = k.matmulRaw(Ab.t, g, { batch, m: kk, n, k: m, transA: true, transB: false, strideA: Ab.stride, strideB: m * n }, bFull);
        if (Ab.owned) Ab.t.dispose();
        out[1] = k.sumTo(db, b.rank === 1 ? [kk, 1] : b.shape);
        db.dispose();
        if (b.rank === 1) out[1] = reshapeOwned(out[1], b.shape);
      }
      if (av !== a) av.dispose();
    }
    g.dispose();
    return out;
  });
}

function reshapeOwned(t: Tensor, shape: readonly number[]): Tensor {
  const v = t.view(shape);
  t.dispose();
  return v;
}

/**
 * A fully connected layer: y = x W^T + b for x [..., in], weight [out, in] (PyTorch's layout) and
 * optional bias [out]. The transpose is a kernel flag, not a copy.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  requireF32('linear', x, weight);
  if (weight.rank !== 2) throw new ShapeError('linear', [weight.shape], 'weight must be [out, in]');
  const [out, inF] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new ShapeError('linear', [x.shape, weight.shape], `the last dim of the input must be ${inF}`);
  }
  if (bias) {
    requireF32('linear', bias);
    if (bias.rank !== 1 || bias.shape[0] !== out) throw new ShapeError('linear', [bias.shape], `bias must have shape [${out}]`);
  }
  const rows = x.size / inF;
  addFlops('linear', 2 * rows * out * inF);
  const x2 = x.view([rows, inF]);
  const y0 = k.matmulRaw(x2, weight, { batch: 1, m: rows, n: out, k: inF, transA: false, transB: true, strideA: 0, strideB: 0 }, [rows, out]);
  let y2 = y0;
  if (bias) {
    y2 = k.add(y0, bias);
    y0.dispose();
  }
  const y = y2.view([...x.shape.slice(0, -1), out]);
  y2.dispose();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const result = record('linear', inputs, y, [x2, weight], (gy, needs) => {
    const g = gy.view([rows, out]);
    const res: (Tensor | null)[] = inputs.map(() => null);
    // dx = gy W
    if (needs[0]) {
      const dx = k.matmulRaw(g, weight, { batch: 1, m: rows, n: inF, k: out, transA: false, transB: false, strideA: 0, strideB: 0 }, [rows, inF]);
      res[0] = dx.view(x.shape);
      dx.dispose();
    }
    // dW = gy^T x
    if (needs[1]) res[1] = k.matmulRaw(g, x2, { batch: 1, m: out, n: inF, k: rows, transA: true, transB: false, strideA: 0, strideB: 0 }, [out, inF]);
    // db = sum of gy over rows
    if (bias && needs[2]) res[2] = k.reduce('sum', g, [0]);
    g.dispose();
    return res;
  });
  if (!result.requiresGrad) x2.dispose();
  return result;
}
