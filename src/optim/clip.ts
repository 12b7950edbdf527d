/**
 * Gradient clipping by global norm, with PyTorch's semantics (torch.nn.utils.clip_grad_norm_) and
 * without any readback: per-parameter partial reductions, one combining pass and an in-place scale
 * that reads the norm from a GPU buffer. The caller gets the norm as a scalar tensor and decides
 * whether (and when) to read it.
 */
import { ArgumentError } from '../errors.js';
import { empty, scalar } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { clipPartial, clipScale, clipTotal, partialCount, type NormKind } from './kernels.js';

/**
 * Scales the gradients of `params` in place so that their global `normType`-norm (all gradients
 * seen as one vector) is at most `maxNorm`: each is multiplied by min(maxNorm / (total + 1e-6), 1).
 * Parameters without a `.grad` are ignored; `normType` is a positive number or Infinity ('inf').
 * Returns the total norm before clipping as a new scalar tensor (0 when no parameter has a
 * gradient). Dispatches one partial reduction per gradient, one combining pass and one scale per
 * gradient; nothing is submitted or read back.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, normType: number | 'inf' = 2): Tensor {
  const op = 'clipGradNorm';
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new ArgumentError(op, `maxNorm must be a number >= 0 (got ${String(maxNorm)})`);
  }
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || !(p > 0)) throw new ArgumentError(op, `normType must be a positive number or Infinity (got ${String(normType)})`);
  const norm: NormKind = p === Infinity ? { kind: 'inf' } : p === 2 ? { kind: 'two' } : { kind: 'p', p };
  const list = typeof (params as Tensor).bufferFor === 'function' ? [params as Tensor] : [...(params as Iterable<Tensor>)];
  const grads: Tensor[] = [];
  for (const t of list) {
    if (typeof t?.bufferFor !== 'function') throw new ArgumentError(op, 'params must be tensors');
    if (!t.grad) continue;
    t.grad.storageFor(op);
    if (t.grad.dtype !== 'f32') throw new ArgumentError(op, `gradients must be f32 (got ${t.grad.dtype})`);
    grads.push(t.grad);
  }
  if (grads.length === 0) return scalar(0);
  const count = grads.reduce((a, g) => a + partialCount(g.size), 0);
  const parts = empty([Math.max(count, 1)]);
  const total = empty([]);
  try {
    let offset = 0;
    for (const g of grads) {
      clipPartial(g, parts, offset, norm);
      offset += partialCount(g.size);
    }
    clipTotal(parts, count, total, norm);
    // Gradients sharing one buffer (views of one tensor) are counted in the norm but scaled once.
    const scaled = new Set<GPUBuffer>();
    for (const g of grads) {
      const buf = g.bufferFor(op);
      if (scaled.has(buf)) continue;
      scaled.add(buf);
      clipScale(g, total, maxNorm);
    }
  } catch (e) {
    total.dispose();
    throw e;
  } finally {
    parts.dispose();
  }
  return total;
}
