/**
 * Input checks and readback shared by the metrics. Per-pixel maps (targets, masks, one-channel
 * predictions) are accepted as [N,H,W] or [N,1,H,W]; errors name the metric that rejected them.
 */
import { DTypeError, ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Batch and spatial sizes of a dense map. */
export interface MapDims {
  n: number;
  h: number;
  w: number;
}

/** The [N,H,W] dims of a map given as [N,H,W] or [N,1,H,W]; ShapeError naming `op` otherwise. */
export function mapDims(op: string, what: string, t: Tensor): MapDims {
  const s = t.shape;
  if (s.length === 3) return { n: s[0]!, h: s[1]!, w: s[2]! };
  if (s.length === 4 && s[1] === 1) return { n: s[0]!, h: s[2]!, w: s[3]! };
  throw new ShapeError(op, [s], `${what} must have shape [N,H,W] or [N,1,H,W]`);
}

/** The [N,H,W] dims of an [N,C,H,W] tensor with the given channel count; ShapeError otherwise. */
export function channelDims(op: string, what: string, t: Tensor, channels: number): MapDims {
  const s = t.shape;
  if (s.length !== 4 || s[1] !== channels) {
    throw new ShapeError(op, [s], `${what} must have shape [N,${channels},H,W]`);
  }
  return { n: s[0]!, h: s[2]!, w: s[3]! };
}

/** Throws a ShapeError naming `op` unless the two maps have the same N, H and W. */
export function sameDims(op: string, a: MapDims, b: MapDims, shapes: readonly (readonly number[])[], what: string): void {
  if (a.n !== b.n || a.h !== b.h || a.w !== b.w) {
    throw new ShapeError(op, shapes, `${what} do not agree in batch size and spatial size`);
  }
}

/** Throws a DTypeError naming `op` unless `t` has dtype `dtype`. */
export function requireDType(op: string, what: string, t: Tensor, dtype: 'f32' | 'i32'): void {
  if (t.dtype !== dtype) throw new DTypeError(op, `${what} must be ${dtype}, got ${t.dtype}`);
}

/** Checks an optional mask against the target dims (any dtype; non-zero = valid). */
export function checkMask(op: string, mask: Tensor | undefined, dims: MapDims, targetShape: readonly number[]): void {
  if (!mask) return;
  sameDims(op, mapDims(op, 'mask', mask), dims, [targetShape, mask.shape], 'target and mask');
}

/** Reads the tensors back together (one submission), keeping undefined as undefined. */
export async function readAll(
  ...ts: (Tensor | undefined)[]
): Promise<(Float32Array | Int32Array | undefined)[]> {
  return Promise.all(ts.map((t) => (t ? t.data() : Promise.resolve(undefined))));
}
