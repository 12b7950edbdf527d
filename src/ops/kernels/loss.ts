/**
 * Raw loss kernels (shaders/loss.wgsl), no autograd: the fused per-pixel cross-entropy forward and
 * backward, pointwise losses (L1, squared error, binary cross-entropy with logits) with optional
 * mask and weights, a GPU-side ratio for means whose denominator is data, and the label check.
 */
import { ArgumentError } from '../../errors.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sameShape, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { cutFlat, cutTile, flatLoss, flatTiles, pixelTiles, putPixelRows, putTile } from './loss-split.js';
import { fits, over } from './split.js';

const ceForwardKernel = { shader: 'loss', entry: 'ce_forward', bindings: ['read', 'read', 'read', 'write', 'write', 'uniform'] } as const;
const ceBackwardKernel = {
  shader: 'loss',
  entry: 'ce_backward',
  bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
} as const;
const pwForwardKernel = {
  shader: 'loss',
  entry: 'pw_forward',
  bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
} as const;
const pwBackwardKernel = {
  shader: 'loss',
  entry: 'pw_backward',
  bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
} as const;
const ratioKernel = { shader: 'loss', entry: 'ratio', bindings: ['read', 'read', 'write', 'uniform'] } as const;
const labelCheckKernel = { shader: 'loss', entry: 'label_check', bindings: ['read', 'write', 'uniform'] } as const;

/** Kernel numbering of the pointwise losses in shaders/loss.wgsl. */
export const POINTWISE_LOSS = { l1: 0, mse: 1, bce: 2 } as const;
export type PointwiseLoss = keyof typeof POINTWISE_LOSS;

function ceUniform(p: number, c: number, s: number, ignore: number): Uint32Array {
  const u = new Uint32Array(4);
  u.set([p, c, s]);
  new Int32Array(u.buffer)[3] = ignore;
  return u;
}

/** Geometry of logits [N, C, S...] seen as (N, C, S) with P = N * S pixels. */
export interface CeGeom {
  n: number;
  c: number;
  s: number;
}

/**
 * Per-pixel cross-entropy of logits (N, C, S) against labels (N, S): `loss` holds the weighted
 * losses [P] and, with `withWeights`, the per-pixel weights after them ([2, P]); `lse` [P] is the
 * logsumexp per pixel, saved for the backward pass.
 */
export function crossEntropyForward(
  x: Tensor,
  target: Tensor,
  weight: Tensor | null,
  g: CeGeom,
  ignore: number,
  withWeights: boolean,
): { loss: Tensor; lse: Tensor } {
  const p = g.n * g.s;
  const xb = x.bufferFor('crossEntropy');
  const tb = target.bufferFor('crossEntropy');
  const rt = x.runtime;
  if (p > 0 && (!fits(rt, x, target) || over(rt, 2 * p))) {
    const loss = empty(withWeights ? [2, p] : [p]);
    const lse = empty([p]);
    for (const t of pixelTiles(rt, g)) {
      const xt = cutTile(x, g, g.c, t);
      const tt = cutTile(target, g, 1, t);
      const r = crossEntropyForward(xt, tt, weight, { n: t.nb, c: g.c, s: t.sb }, ignore, withWeights);
      putPixelRows(r.loss, loss, withWeights ? 2 : 1, t.n0 * g.s + t.s0);
      putPixelRows(r.lse, lse, 1, t.n0 * g.s + t.s0);
      [xt, tt, r.loss, r.lse].forEach((u) => u.dispose());
    }
    return { loss, lse };
  }
  const loss = empty(withWeights ? [2, p] : [p]);
  const lse = empty([p]);
  if (p > 0) {
    loss.runtime.dispatch(
      ceForwardKernel,
      { WG, MEAN: withWeights ? 1 : 0, HAS_W: weight ? 1 : 0 },
      [xb, tb, weight ? weight.bufferFor('crossEntropy') : xb, loss.bufferFor('crossEntropy'), lse.bufferFor('crossEntropy')],
      ceUniform(p, g.c, g.s, ignore),
      grid(Math.ceil(p / WG)),
    );
  }
  return { loss, lse };
}

/**
 * dx [N, C, S] = g * w[t] * (softmax - onehot(t)) per pixel, 0 for ignored pixels; `g` has one value
 * per pixel when `gEach`, else a single value.
 */
export function crossEntropyBackward(
  x: Tensor,
  target: Tensor,
  weight: Tensor | null,
  lse: Tensor,
  g: Tensor,
  gEach: boolean,
  geom: CeGeom,
  ignore: number,
): Tensor {
  const p = geom.n * geom.s;
  const rt = x.runtime;
  if (p > 0 && (!fits(rt, x, target, lse) || (gEach && !fits(rt, g)))) {
    const dx = empty(x.shape);
    for (const t of pixelTiles(rt, geom)) {
      const cut = [cutTile(x, geom, geom.c, t), cutTile(target, geom, 1, t), cutTile(lse, geom, 1, t), gEach ? cutTile(g, geom, 1, t) : g];
      const r = crossEntropyBackward(cut[0]!, cut[1]!, weight, cut[2]!, cut[3]!, gEach, { n: t.nb, c: geom.c, s: t.sb }, ignore);
      putTile(r, dx, geom, geom.c, t);
      [r, ...cut.filter((u) => u !== g)].forEach((u) => u.dispose());
    }
    return dx;
  }
  const dx = empty(x.shape);
  if (p === 0) return dx;
  dx.runtime.dispatch(
    ceBackwardKernel,
    { WG, HAS_W: weight ? 1 : 0, G_EACH: gEach ? 1 : 0 },
    [x, target, weight ?? x, lse, g, dx].map((t) => t.bufferFor('crossEntropy')),
    ceUniform(p, geom.c, geom.s, ignore),
    grid(Math.ceil(p / WG)),
  );
  return dx;
}

/**
 * Optional factors of a pointwise loss. Each tensor broadcasts to the input's shape through at
 * most three alternating kept/broadcast dim groups (see {@link broadcastGroups}); callers expand
 * the rare others first.
 */
export interface PointwiseExtras {
  mask: Tensor | null;
  weight: Tensor | null;
  /** BCE only: a number, or a tensor. */
  posWeight: number | Tensor | null;
}

/**
 * How `aux` broadcasts to `shape` as the kernel's (o, m, i) walk: [M*I, I, M, 1, so, sm, si, 0],
 * all zeros when the shapes are equal, or null when it needs more than three groups of dims
 * (alternately kept and broadcast), e.g. [N, 1, H, 1] against [N, C, H, W].
 */
export function broadcastGroups(aux: Shape, shape: Shape): number[] | null {
  if (sameShape(aux, shape)) return [0, 0, 0, 0, 0, 0, 0, 0];
  const off = shape.length - aux.length;
  const groups: { kept: boolean; extent: number }[] = [];
  for (let d = 0; d < shape.length; d++) {
    const x = shape[d]!;
    if (x === 1) continue;
    const kept = d >= off && aux[d - off] === x;
    const last = groups[groups.length - 1];
    if (last && last.kept === kept) last.extent *= x;
    else groups.push({ kept, extent: x });
  }
  if (groups.length > 3) return null;
  while (groups.length < 3) groups.unshift({ kept: false, extent: 1 });
  const [o, m, i] = groups as [(typeof groups)[0], (typeof groups)[0], (typeof groups)[0]];
  const si = i.kept ? 1 : 0;
  const sm = m.kept ? (i.kept ? i.extent : 1) : 0;
  const so = o.kept ? (m.kept ? m.extent : 1) * (i.kept ? i.extent : 1) : 0;
  return [m.extent * i.extent, i.extent, m.extent, 1, so, sm, si, 0];
}

function pwUniform(n: number, scale: number, e: PointwiseExtras, shape: Shape): Uint8Array {
  const u = new ArrayBuffer(16 + 96);
  new Uint32Array(u, 0, 1)[0] = n;
  new Float32Array(u, 4, 2).set([scale, typeof e.posWeight === 'number' ? e.posWeight : 1]);
  const u32 = new Uint32Array(u);
  [e.mask, e.weight, typeof e.posWeight === 'number' ? null : e.posWeight].forEach((t, k) => {
    const g = t ? broadcastGroups(t.shape, shape) : [0, 0, 0, 0, 0, 0, 0, 0];
    if (!g) throw new ArgumentError('loss', `operand of shape [${t!.shape.join(',')}] needs expanding first`);
    u32.set(g.slice(0, 4), 4 + 4 * k);
    u32.set(g.slice(4), 16 + 4 * k);
  });
  return new Uint8Array(u);
}

function pwConstants(op: PointwiseLoss, e: PointwiseExtras): Record<string, number> {
  const pwMode = e.posWeight === null ? 0 : typeof e.posWeight === 'number' ? 1 : 2;
  return { WG, OP: POINTWISE_LOSS[op], HAS_MASK: e.mask ? 1 : 0, HAS_W: e.weight ? 1 : 0, PW_MODE: pwMode };
}

/**
 * Elementwise mask * weight * loss(x, t) (a masked-out element gives exactly 0, even for NaN
 * inputs); with `maskRow` the output is [2, n] and its second row holds the broadcast mask.
 */
export function pointwiseLossForward(op: PointwiseLoss, x: Tensor, t: Tensor, e: PointwiseExtras, maskRow: boolean): Tensor {
  const n = x.size;
  const xb = x.bufferFor(op);
  const tb = t.bufferFor(op);
  const rt = x.runtime;
  if (n > 0 && (!fits(rt, x, t, e.mask, e.weight, typeof e.posWeight === 'number' ? null : e.posWeight) || over(rt, (maskRow ? 2 : 1) * n))) {
    const out = empty(maskRow ? [2, n] : [n]);
    flatLoss(x, t, e, null, maskRow ? 2 : 1, (xc, tc, ec) => {
      const r = pointwiseLossForward(op, xc, tc, ec, maskRow);
      return [r];
    }, (s, [r]) => putPixelRows(r!, out, maskRow ? 2 : 1, s));
    return out;
  }
  const out = empty(maskRow ? [2, n] : [n]);
  if (n === 0) return out;
  const pw = e.posWeight;
  out.runtime.dispatch(
    pwForwardKernel,
    { ...pwConstants(op, e), MASK_ROW: maskRow && e.mask ? 1 : 0 },
    [xb, tb, ...[e.mask, e.weight, typeof pw === 'number' ? null : pw].map((a) => (a ? a.bufferFor(op) : xb)), out.bufferFor(op)],
    pwUniform(n, 1, e, x.shape),
    grid(Math.ceil(n / 4 / WG)),
  );
  return out;
}

/**
 * Gradients of sum(g * scale * mask * weight * loss(x, t)): dx, and dt when `wantT`. `g` holds one
 * value per element when `gEach`, else one value.
 */
export function pointwiseLossBackward(
  op: PointwiseLoss,
  x: Tensor,
  t: Tensor,
  e: PointwiseExtras,
  g: Tensor,
  gEach: boolean,
  scale: number,
  wantT: boolean,
): { dx: Tensor; dt: Tensor | null } {
  const n = x.size;
  const rt = x.runtime;
  if (n > 0 && !fits(rt, x, t, e.mask, e.weight, typeof e.posWeight === 'number' ? null : e.posWeight, g)) {
    const dx = empty(x.shape);
    const dt = wantT ? empty(x.shape) : null;
    flatLoss(x, t, e, gEach ? g : null, 1, (xc, tc, ec, gc) => {
      const r = pointwiseLossBackward(op, xc, tc, ec, gc ?? g, gEach, scale, wantT);
      return r.dt ? [r.dx, r.dt] : [r.dx];
    }, (s, [a, b]) => {
      putPixelRows(a!, dx, 1, s);
      if (b) putPixelRows(b, dt!, 1, s);
    });
    return { dx, dt };
  }
  const dx = empty(x.shape);
  const dt = wantT ? empty(x.shape) : null;
  if (n === 0) return { dx, dt };
  const spare = dt ? null : empty([1]);
  const xb = x.bufferFor(op);
  const pw = e.posWeight;
  dx.runtime.dispatch(
    pwBackwardKernel,
    { ...pwConstants(op, e), G_EACH: gEach ? 1 : 0, GRAD_T: wantT ? 1 : 0 },
    [
      xb,
      t.bufferFor(op),
      e.mask ? e.mask.bufferFor(op) : xb,
      e.weight ? e.weight.bufferFor(op) : xb,
      pw !== null && typeof pw !== 'number' ? pw.bufferFor(op) : xb,
      g.bufferFor(op),
      dx.bufferFor(op),
      (dt ?? spare!).bufferFor(op),
    ],
    pwUniform(n, scale, e, x.shape),
    grid(Math.ceil(n / 4 / WG)),
  );
  spare?.dispose();
  return { dx, dt };
}

/** A scalar (shape []) a[ia] / max(b[ib], floor), computed on the GPU. */
export function ratio(a: Tensor, ia: number, b: Tensor, ib: number, floor: number): Tensor {
  if (!fits(a.runtime, a, b)) {
    // Only two elements are read: bind copies of them.
    const [a1, b1] = [cutFlat(a, ia, 1), cutFlat(b, ib, 1)];
    const r = ratio(a1, 0, b1, 0, floor);
    a1.dispose();
    b1.dispose();
    return r;
  }
  const ab = a.bufferFor('mean');
  const bb = b.bufferFor('mean');
  const y = empty([]);
  const u = new ArrayBuffer(16);
  new Uint32Array(u, 0, 2).set([ia, ib]);
  new Float32Array(u, 8, 1)[0] = floor;
  y.runtime.dispatch(ratioKernel, { WG }, [ab, bb, y.bufferFor('mean')], new Uint8Array(u), [1, 1, 1]);
  return y;
}

/** f32 flags: 1 where a label is outside [0, c) and not `ignore`, else 0. */
export function labelFlags(target: Tensor, c: number, ignore: number): Tensor {
  const tb = target.bufferFor('validateLabels');
  const n = target.size;
  if (!fits(target.runtime, target)) {
    const flags = empty(target.shape);
    for (const [s0, cnt] of flatTiles(target.runtime, n)) {
      const part = cutFlat(target, s0, cnt);
      const f = labelFlags(part, c, ignore);
      putPixelRows(f, flags, 1, s0);
      part.dispose();
      f.dispose();
    }
    return flags;
  }
  const flags = empty(target.shape);
  if (n > 0) flags.runtime.dispatch(labelCheckKernel, { WG }, [tb, flags.bufferFor('validateLabels')], ceUniform(n, c, 1, ignore), grid(Math.ceil(n / WG)));
  return flags;
}

const cosForwardKernel = { shader: 'loss', entry: 'cos_forward', bindings: ['read', 'read', 'read', 'write', 'uniform'] } as const;
const cosBackwardKernel = { shader: 'loss', entry: 'cos_backward', bindings: ['read', 'read', 'read', 'read', 'write', 'uniform'] } as const;

function cosUniform(g: CeGeom, eps: number, scale: number): Uint8Array {
  const u = new ArrayBuffer(32);
  new Uint32Array(u, 0, 3).set([g.n * g.s, g.c, g.s]);
  new Float32Array(u, 12, 2).set([eps, scale]);
  return new Uint8Array(u);
}

/**
 * Per-pixel cosine normal loss mask * (1 - <x / max(|x|, eps), t>) of pred and target (N, C, S);
 * `mask` (optional) holds one value per pixel (N * S). With `maskRow` the output is [2, P] and its
 * second row holds the mask.
 */
export function cosineNormalForward(x: Tensor, t: Tensor, mask: Tensor | null, g: CeGeom, eps: number, maskRow: boolean): Tensor {
  const p = g.n * g.s;
  const xb = x.bufferFor('normalLoss');
  const rt = x.runtime;
  if (p > 0 && (!fits(rt, x, t, mask) || over(rt, 2 * p))) {
    const out = empty(maskRow ? [2, p] : [p]);
    for (const tile of pixelTiles(rt, g)) {
      const cut = [cutTile(x, g, g.c, tile), cutTile(t, g, g.c, tile), mask && cutTile(mask, g, 1, tile)];
      const r = cosineNormalForward(cut[0]!, cut[1]!, cut[2] ?? null, { n: tile.nb, c: g.c, s: tile.sb }, eps, maskRow);
      putPixelRows(r, out, maskRow ? 2 : 1, tile.n0 * g.s + tile.s0);
      [r, ...cut].forEach((u) => u?.dispose());
    }
    return out;
  }
  const out = empty(maskRow ? [2, p] : [p]);
  if (p === 0) return out;
  out.runtime.dispatch(
    cosForwardKernel,
    { WG, HAS_MASK: mask ? 1 : 0, MASK_ROW: maskRow && mask ? 1 : 0 },
    [xb, t.bufferFor('normalLoss'), mask ? mask.bufferFor('normalLoss') : xb, out.bufferFor('normalLoss')],
    cosUniform(g, eps, 1),
    grid(Math.ceil(p / WG)),
  );
  return out;
}

/** dx of sum(g * scale * cosine normal loss); `g` holds one value per pixel when `gEach`, else one. */
export function cosineNormalBackward(
  x: Tensor,
  t: Tensor,
  mask: Tensor | null,
  g: Tensor,
  gEach: boolean,
  scale: number,
  geom: CeGeom,
  eps: number,
): Tensor {
  const p = geom.n * geom.s;
  const rt = x.runtime;
  if (p > 0 && (!fits(rt, x, t, mask) || (gEach && !fits(rt, g)))) {
    const dx = empty(x.shape);
    for (const tile of pixelTiles(rt, geom)) {
      const cut = [cutTile(x, geom, geom.c, tile), cutTile(t, geom, geom.c, tile), mask && cutTile(mask, geom, 1, tile), gEach ? cutTile(g, geom, 1, tile) : null];
      const r = cosineNormalBackward(cut[0]!, cut[1]!, cut[2] ?? null, cut[3] ?? g, gEach, scale, { n: tile.nb, c: geom.c, s: tile.sb }, eps);
      putTile(r, dx, geom, geom.c, tile);
      [r, ...cut].forEach((u) => u?.dispose());
    }
    return dx;
  }
  const dx = empty(x.shape);
  if (p === 0) return dx;
  const xb = x.bufferFor('normalLoss');
  dx.runtime.dispatch(
    cosBackwardKernel,
    { WG, HAS_MASK: mask ? 1 : 0, G_EACH: gEach ? 1 : 0 },
    [xb, t.bufferFor('normalLoss'), mask ? mask.bufferFor('normalLoss') : xb, g.bufferFor('normalLoss'), dx.bufferFor('normalLoss')],
    cosUniform(geom, eps, scale),
    grid(Math.ceil(p / WG)),
  );
  return dx;
}

