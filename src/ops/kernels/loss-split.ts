/**
 * Losses whose tensors exceed one binding (Runtime.maxBindingBytes). Per-pixel losses over (N, C, S)
 * run per tile of pixels (whole images while they fit, else pixel ranges of one image) with all C
 * channels of each pixel; elementwise losses run per flat chunk. Tiles are copied out and the unsplit
 * kernel runs on each; per-pixel outputs ([k, P] rows) and gradients are copied back into place.
 * src/ops/kernels/loss.ts calls these only when something does not fit.
 */
import { ArgumentError } from '../../errors.js';
import type { Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { sameShape } from '../../tensor/shape.js';
import { expand } from './copy.js';
import type { PointwiseExtras } from './loss.js';
import { copyBlock } from './split.js';

/** Logits (N, C, S): P = N * S pixels. */
interface Geom {
  n: number;
  c: number;
  s: number;
}

/** Pixels s0 .. s0+sb of images n0 .. n0+nb. */
export interface PixelTile {
  n0: number;
  nb: number;
  s0: number;
  sb: number;
}

/** Tiles whose C-channel block fits one binding: whole images while one does, else pixel ranges. */
export function pixelTiles(rt: Runtime, g: Geom): PixelTile[] {
  const L = rt.maxBindingBytes / 4;
  if (g.c > L) throw new ArgumentError('loss', `${g.c} channels a pixel exceed one binding (${rt.maxBindingBytes} bytes); this split is not supported`);
  const out: PixelTile[] = [];
  if (g.c * g.s <= L) {
    const nb = Math.max(1, Math.floor(L / (g.c * g.s)));
    for (let n0 = 0; n0 < g.n; n0 += nb) out.push({ n0, nb: Math.min(nb, g.n - n0), s0: 0, sb: g.s });
    return out;
  }
  const sb = Math.floor(L / g.c);
  for (let n0 = 0; n0 < g.n; n0++) for (let s0 = 0; s0 < g.s; s0 += sb) out.push({ n0, nb: 1, s0, sb: Math.min(sb, g.s - s0) });
  return out;
}

/** The tile of t seen as [N, k, S] (k = 1 for per-pixel tensors, C for logits), as a new tensor. */
export function cutTile(t: Tensor, g: Geom, k: number, tile: PixelTile): Tensor {
  const v = t.view([g.n, k, g.s]);
  const out = empty([tile.nb, k, tile.sb], t.dtype);
  copyBlock(v, [tile.n0, 0, tile.s0], out, [0, 0, 0], [tile.nb, k, tile.sb]);
  v.dispose();
  return out;
}

/** Writes a tile result seen as [nb, k, sb] back into `whole` seen as [N, k, S]. */
export function putTile(part: Tensor, whole: Tensor, g: Geom, k: number, tile: PixelTile): void {
  const pv = part.view([tile.nb, k, tile.sb]);
  const wv = whole.view([g.n, k, g.s]);
  copyBlock(pv, [0, 0, 0], wv, [tile.n0, 0, tile.s0], [tile.nb, k, tile.sb]);
  pv.dispose();
  wv.dispose();
}

/**
 * Writes a per-pixel output [rows, count] (rows of a [rows, P] output, e.g. losses and their weights)
 * for the pixels from `start` into `whole` [rows, P].
 */
export function putPixelRows(part: Tensor, whole: Tensor, rows: number, start: number): void {
  const count = part.size / rows;
  const pv = part.view([rows, count]);
  const wv = whole.view([rows, whole.size / rows]);
  copyBlock(pv, [0, 0], wv, [0, start], [rows, count]);
  pv.dispose();
  wv.dispose();
}

/** Flat ranges [start, count) of n elements, each at most one binding (`rows` times over). */
export function flatTiles(rt: Runtime, n: number, rows = 1): [number, number][] {
  const step = Math.floor(rt.maxBindingBytes / 4 / rows);
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}

/** Elements [start, start + count) of t as a new flat tensor. */
export function cutFlat(t: Tensor, start: number, count: number): Tensor {
  const out = empty([count], t.dtype);
  t.runtime.copy(t.bufferFor('loss'), start * 4, out.bufferFor('loss'), 0, count * 4);
  return out;
}

/**
 * An elementwise loss pass too large for one binding, by flat chunks: operands that broadcast are
 * expanded to x's shape first, so every operand's chunk is the same element range (and `rows`
 * output rows of a chunk fit one binding). `run` gets the
 * chunks (and g's, when per element); `put(start, outputs)` places its results.
 */
export function flatLoss(
  x: Tensor,
  t: Tensor,
  e: PointwiseExtras,
  g: Tensor | null,
  rows: number,
  run: (x: Tensor, t: Tensor, e: PointwiseExtras, g: Tensor | null) => Tensor[],
  put: (start: number, outs: Tensor[]) => void,
): void {
  const full = (a: Tensor | null): Tensor | null => (a && !sameShape(a.shape, x.shape) ? expand(a, x.shape) : a);
  const pw = typeof e.posWeight === 'number' ? null : e.posWeight;
  const ops = [full(t)!, full(e.mask), full(e.weight), full(pw), g];
  for (const [s0, cnt] of flatTiles(x.runtime, x.size, rows)) {
    const xc = cutFlat(x, s0, cnt);
    const cut = ops.map((a) => a && cutFlat(a, s0, cnt));
    const outs = run(xc, cut[0]!, { mask: cut[1]!, weight: cut[2]!, posWeight: typeof e.posWeight === 'number' ? e.posWeight : cut[3]! }, cut[4]!);
    put(s0, outs);
    [xc, ...cut, ...outs].forEach((u) => u?.dispose());
  }
  [ops[0] !== t ? ops[0] : null, ops[1] !== e.mask ? ops[1] : null, ops[2] !== e.weight ? ops[2] : null, ops[3] !== pw ? ops[3] : null].forEach((u) => u?.dispose());
}
