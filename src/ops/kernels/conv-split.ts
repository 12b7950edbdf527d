/**
 * Convolution passes whose tensors exceed one binding (Runtime.maxBindingBytes), run as tiles that fit:
 * chunks of the batch, and when one image is still too large, blocks of output rows (with the input
 * rows their taps reach) and of output channels (with their slice of the weight). Tiles are copied
 * out with copyBufferToBuffer (any split point works) and the unsplit pass runs on each; forward
 * tiles are written back into the output, weight-gradient tiles summed. src/ops/kernels/conv.ts calls
 * these only when something does not fit.
 */
import { ArgumentError } from '../../errors.js';
import type { Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConvGeom } from './conv.js';
import { binary } from './elementwise.js';
import { copyBlock, putRows, takeRows } from './split.js';

/** One tile: images n0 .. n0+nb, output channels o0 .. o0+ob, output rows r0 .. r0+rows. */
interface Tile {
  n0: number;
  nb: number;
  o0: number;
  ob: number;
  r0: number;
  rows: number;
}

/**
 * Tiles of an n x o x oh output over an input of c x hp x wp per image: batch chunks while one whole
 * image fits, else row blocks of one image; output channels are blocked when the weight (o x kdim) or
 * one output row of all channels does not fit (groups 1 only).
 */
function tiles(rt: Runtime, op: string, n: number, c: number, hp: number, wp: number, o: number, oh: number, ow: number, kdim: number, g: ConvGeom): Tile[] {
  const L = rt.maxBindingBytes / 4;
  const ekh = g.dh * (g.kh - 1) + 1;
  const inRows = (rows: number) => (rows - 1) * g.sh + ekh;
  // Channel blocks are multiples of 4: the packed weight rounds its rows up to 4.
  const ob = Math.min(o, Math.floor(L / kdim / 4) * 4, Math.floor(L / ow));
  if (ob < o && g.groups !== 1) throw new ArgumentError(op, `a grouped convolution whose weight or output row exceeds one binding (${rt.maxBindingBytes} bytes) is not split`);
  if (ob < 1 || c * ekh * wp > L) {
    throw new ArgumentError(op, `one output row needs more than one binding (${rt.maxBindingBytes} bytes) of input or weight; this split is not supported`);
  }
  const perImage = Math.max(c * hp * wp, ob * oh * ow);
  const out: Tile[] = [];
  for (let o0 = 0; o0 < o; o0 += ob) {
    const obk = Math.min(ob, o - o0);
    if (perImage <= L) {
      const nb = Math.max(1, Math.floor(L / Math.max(c * hp * wp, obk * oh * ow)));
      for (let n0 = 0; n0 < n; n0 += nb) out.push({ n0, nb: Math.min(nb, n - n0), o0, ob: obk, r0: 0, rows: oh });
      continue;
    }
    let rows = oh;
    while (rows > 1 && (c * inRows(rows) * wp > L || obk * rows * ow > L)) rows = Math.floor(rows / 2);
    for (let n0 = 0; n0 < n; n0++) for (let r0 = 0; r0 < oh; r0 += rows) out.push({ n0, nb: 1, o0, ob: obk, r0, rows: Math.min(rows, oh - r0) });
  }
  return out;
}

/** Block [n0:n0+nb, c0:c0+cb, h0:h0+hb, :] of a 4-D tensor as a new tensor (t itself when whole). */
function block(t: Tensor, n0: number, nb: number, c0: number, cb: number, h0: number, hb: number): Tensor {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  if (nb === n && cb === c && hb === h) return t;
  const b = empty([nb, cb, hb, w]);
  copyBlock(t, [n0, c0, h0, 0], b, [0, 0, 0, 0], [nb, cb, hb, w]);
  return b;
}

function drop(t: Tensor | null, whole: Tensor | null): void {
  if (t && t !== whole) t.dispose();
}

/** The forward pass `run` (conv.ts's convForward) over tiles that each fit one binding. */
export function tiledForward(
  xp: Tensor,
  w: Tensor,
  g: ConvGeom,
  oh: number,
  ow: number,
  bias: Tensor | null,
  res: Tensor | null,
  relu: boolean,
  run: (xp: Tensor, w: Tensor, g: ConvGeom, bias: Tensor | null, res: Tensor | null, relu: boolean) => Tensor,
): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = w.shape[0]!;
  const ekh = g.dh * (g.kh - 1) + 1;
  const y = empty([n, o, oh, ow]);
  for (const t of tiles(y.runtime, 'conv2d', n, c, hp, wp, o, oh, ow, w.size / o, g)) {
    const xt = block(xp, t.n0, t.nb, 0, c, t.r0 * g.sh, (t.rows - 1) * g.sh + ekh);
    const wt = t.ob === o ? w : takeRows(w, t.o0, t.ob);
    const bt = bias && t.ob !== o ? takeRows(bias, t.o0, t.ob) : bias;
    const rt = res && block(res, t.n0, t.nb, t.o0, t.ob, t.r0, t.rows);
    const yt = run(xt, wt, g, bt, rt, relu);
    copyBlock(yt, [0, 0, 0, 0], y, [t.n0, t.o0, t.r0, 0], yt.shape);
    yt.dispose();
    drop(xt, xp);
    drop(wt, w);
    drop(bt, bias);
    drop(rt, res);
  }
  return y;
}

/** The weight gradient `run` (conv.ts's convWeightGrad) summed over tiles that each fit one binding. */
export function tiledWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeom, run: (xp: Tensor, dy: Tensor, g: ConvGeom) => Tensor): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const [, o, oh, ow] = dy.shape as [number, number, number, number];
  const ekh = g.dh * (g.kh - 1) + 1;
  const cg = c / g.groups;
  const list = tiles(xp.runtime, 'conv2d', n, c, hp, wp, o, oh, ow, cg * g.kh * g.kw, g);
  // Partial gradients of one channel block add up; blocks fill dw's rows.
  const sums = new Map<number, Tensor>();
  for (const t of list) {
    const xt = block(xp, t.n0, t.nb, 0, c, t.r0 * g.sh, (t.rows - 1) * g.sh + ekh);
    const dt = block(dy, t.n0, t.nb, t.o0, t.ob, t.r0, t.rows);
    const part = run(xt, dt, g);
    drop(xt, xp);
    drop(dt, dy);
    const prev = sums.get(t.o0);
    if (prev) {
      sums.set(t.o0, binary('add', prev, part));
      prev.dispose();
      part.dispose();
    } else sums.set(t.o0, part);
  }
  if (sums.size === 1) return sums.get(0)!;
  const dw = empty([o, cg, g.kh, g.kw]);
  for (const [o0, part] of sums) {
    putRows(dw, o0, part);
    part.dispose();
  }
  return dw;
}
