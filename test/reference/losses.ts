/**
 * Float64 reference losses, written as the definitions (PyTorch's, and the masked mean
 * sum(mask * v) / max(sum(mask), 1) for the dense-regression losses).
 */
import { l2Normalize } from './norm.js';
import { ND, size } from './ndarray.js';

export type RefReduction = 'mean' | 'sum' | 'none';

/** F.cross_entropy of logits [N, C, ...] (or [C]) against integer labels. */
export function crossEntropy(
  x: ND,
  target: ArrayLike<number>,
  o: { ignoreIndex?: number; weight?: ArrayLike<number> | null; reduction?: RefReduction } = {},
): ND {
  const ignore = o.ignoreIndex ?? 255;
  const unbatched = x.rank === 1;
  const n = unbatched ? 1 : x.shape[0]!;
  const c = x.shape[unbatched ? 0 : 1]!;
  const s = unbatched ? 1 : size(x.shape.slice(2));
  const loss = new Float64Array(n * s);
  let num = 0;
  let den = 0;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < s; p++) {
      const t = target[b * s + p]!;
      if (t === ignore) continue;
      if (t < 0 || t >= c) throw new Error(`reference: label ${t} out of range`);
      const at = (k: number) => x.data[(b * c + k) * s + p]!;
      let m = -Infinity;
      for (let k = 0; k < c; k++) m = Math.max(m, at(k));
      let se = 0;
      for (let k = 0; k < c; k++) se += Math.exp(at(k) - m);
      const w = o.weight ? o.weight[t]! : 1;
      loss[b * s + p] = w * (Math.log(se) + m - at(t));
      num += loss[b * s + p]!;
      den += w;
    }
  const r = o.reduction ?? 'mean';
  if (r === 'none') return new ND(unbatched ? [] : [n, ...x.shape.slice(2)], loss);
  return ND.from([r === 'sum' ? num : num / den], []);
}

function reduceMasked(v: Float64Array, mask: Float64Array | null, r: RefReduction, shape: number[]): ND {
  const out = mask ? v.map((e, i) => (mask[i] === 0 ? 0 : e * mask[i]!)) : v;
  if (r === 'none') return new ND(shape, out);
  const s = out.reduce((a, b) => a + b, 0);
  if (r === 'sum') return ND.from([s], []);
  const den = mask ? Math.max(mask.reduce((a, b) => a + b, 0), 1) : v.length;
  return ND.from([s / den], []);
}

/** `m` broadcast to `shape` (NumPy rules), as a flat array. */
export function broadcastTo(m: ND, shape: readonly number[]): Float64Array {
  const out = new Float64Array(size(shape));
  const off = shape.length - m.rank;
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    const idx: number[] = new Array(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    out[i] = m.at(m.shape.map((dm, k) => (dm === 1 ? 0 : idx[k + off]!)));
  }
  return out;
}

/** L1 (kind 'l1') or squared error ('mse') with an optional mask and the masked mean. */
export function regression(kind: 'l1' | 'mse', x: ND, t: ND, mask: ND | null, r: RefReduction = 'mean'): ND {
  const v = x.data.map((e, i) => (kind === 'l1' ? Math.abs(e - t.data[i]!) : (e - t.data[i]!) ** 2));
  return reduceMasked(v, mask ? broadcastTo(mask, x.shape) : null, r, [...x.shape]);
}

/** F.binary_cross_entropy_with_logits. */
export function bceWithLogits(x: ND, t: ND, o: { posWeight?: number | ND | null; weight?: ND | null; reduction?: RefReduction } = {}): ND {
  const pw = o.posWeight instanceof ND ? broadcastTo(o.posWeight, x.shape) : null;
  const w = o.weight ? broadcastTo(o.weight, x.shape) : null;
  const v = x.data.map((e, i) => {
    const p = pw ? pw[i]! : typeof o.posWeight === 'number' ? o.posWeight : 1;
    const tv = t.data[i]!;
    // (1 - t) x + (1 + (p - 1) t) log(1 + e^-x), with log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0)
    // and, for x < 0, the linear terms summed exactly to -p t x (no cancellation even in float64).
    const lw = 1 + (p - 1) * tv;
    const lin = e < 0 ? -p * tv * e : (1 - tv) * e;
    return (lin + lw * Math.log1p(Math.exp(-Math.abs(e)))) * (w ? w[i]! : 1);
  });
  return reduceMasked(v, null, o.reduction ?? 'mean', [...x.shape]);
}

/** Normal loss: 'l1' between F.normalize(pred, dim 1) and target, or 'cosine' (1 - cos per pixel). */
export function normalLoss(x: ND, t: ND, mask: ND | null, kind: 'l1' | 'cosine', r: RefReduction = 'mean'): ND {
  const nrm = l2Normalize(x, 1);
  if (kind === 'l1') return regression('l1', nrm, t, mask, r);
  const [n, c] = x.shape as [number, number];
  const s = size(x.shape.slice(2));
  const v = new Float64Array(n * s);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < s; p++) {
      let dot = 0;
      for (let k = 0; k < c; k++) dot += nrm.data[(b * c + k) * s + p]! * t.data[(b * c + k) * s + p]!;
      v[b * s + p] = 1 - dot;
    }
  const pix = [n, 1, ...x.shape.slice(2)];
  const out = reduceMasked(v, mask ? broadcastTo(mask, pix) : null, r, [n, ...x.shape.slice(2)]);
  return out;
}
