/**
 * Raw loss kernels (shaders/loss.wgsl), no autograd: the fused per-pixel cross-entropy forward and
 * backward, pointwise losses (L1, squared error, binary cross-entropy with logits) with optional
 * mask and weights, a GPU-side ratio for means whose denominator is data, and the label check.
 */
import { ArgumentError } from '../../errors.js';
import { bindingsByName, enumValue, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sameShape, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { cutFlat, cutTile, flatLoss, flatTiles, pixelTiles, putPixelRows, putTile } from './loss-split.js';
import { fits, over } from './split.js';
import { CE_BACKWARD, CE_FORWARD, COS_BACKWARD, COS_FORWARD, LABEL_CHECK, PW_BACKWARD, PW_FORWARD, RATIO, type PointwiseLoss, type PosWeightMode } from './loss-descriptors.js';

export type { PointwiseLoss } from './loss-descriptors.js';

const ceForwardKernel = fileKernel(CE_FORWARD, 'loss', 'ce_forward');
const ceBackwardKernel = fileKernel(CE_BACKWARD, 'loss', 'ce_backward');
const pwForwardKernel = fileKernel(PW_FORWARD, 'loss', 'pw_forward');
const pwBackwardKernel = fileKernel(PW_BACKWARD, 'loss', 'pw_backward');
const ratioKernel = fileKernel(RATIO, 'loss', 'ratio');
const labelCheckKernel = fileKernel(LABEL_CHECK, 'loss', 'label_check');
const cosForwardKernel = fileKernel(COS_FORWARD, 'loss', 'cos_forward');
const cosBackwardKernel = fileKernel(COS_BACKWARD, 'loss', 'cos_backward');

/** The `Ce` uniform block of descriptor d (cross-entropy and the label check share the struct). */
function ceUniform(d: KernelDescriptor, p: number, c: number, s: number, ignore: number): Uint8Array {
  return new Uint8Array(packUniformBlock(d, { p, c, s, ignore }));
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
    // Without a weight tensor, x stands in for the unused binding.
    const w = weight ? weight.bufferFor('crossEntropy') : xb;
    const buffers = bindingsByName(CE_FORWARD, { cf_x: xb, cf_t: tb, cf_w: w, cf_loss: loss.bufferFor('crossEntropy'), cf_lse: lse.bufferFor('crossEntropy') });
    loss.runtime.dispatch(
      ceForwardKernel,
      { WG, MEAN: withWeights ? 1 : 0, HAS_W: weight ? 1 : 0 },
      buffers,
      ceUniform(CE_FORWARD, p, g.c, g.s, ignore),
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
  const named = { cb_x: x, cb_t: target, cb_w: weight ?? x, cb_lse: lse, cb_g: g, cb_dx: dx };
  dx.runtime.dispatch(
    ceBackwardKernel,
    { WG, HAS_W: weight ? 1 : 0, G_EACH: gEach ? 1 : 0 },
    bindingsByName(CE_BACKWARD, named).map((t) => t.bufferFor('crossEntropy')),
    ceUniform(CE_BACKWARD, p, geom.c, geom.s, ignore),
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

/** The `Pw` uniform block: walk extents (geo) and strides (st) of mask, weight and pos_weight. */
function pwUniform(n: number, scale: number, e: PointwiseExtras, shape: Shape): Uint8Array {
  const geo: number[] = [];
  const st: number[] = [];
  for (const t of [e.mask, e.weight, typeof e.posWeight === 'number' ? null : e.posWeight]) {
    const g = t ? broadcastGroups(t.shape, shape) : [0, 0, 0, 0, 0, 0, 0, 0];
    if (!g) throw new ArgumentError('loss', `operand of shape [${t!.shape.join(',')}] needs expanding first`);
    geo.push(...g.slice(0, 4));
    st.push(...g.slice(4));
  }
  // pw_forward and pw_backward share the struct.
  return new Uint8Array(packUniformBlock(PW_FORWARD, { n, scale, pw: typeof e.posWeight === 'number' ? e.posWeight : 1, pad0: 0, geo, st }));
}

function pwConstants(op: PointwiseLoss, e: PointwiseExtras): Record<string, number> {
  const mode: PosWeightMode = e.posWeight === null ? 'none' : typeof e.posWeight === 'number' ? 'scalar' : 'tensor';
  const codes = { OP: enumValue(PW_FORWARD, 'loss', op), PW_MODE: enumValue(PW_FORWARD, 'posWeight', mode) };
  return { WG, ...codes, HAS_MASK: e.mask ? 1 : 0, HAS_W: e.weight ? 1 : 0 };
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
  // Absent operands bind x in their place (the kernel does not read them).
  const opt = (a: Tensor | null) => (a ? a.bufferFor(op) : xb);
  const aux = { pf_mask: opt(e.mask), pf_w: opt(e.weight), pf_pw: opt(typeof pw === 'number' ? null : pw) };
  const buffers = bindingsByName(PW_FORWARD, { pf_x: xb, pf_t: tb, ...aux, pf_out: out.bufferFor(op) });
  out.runtime.dispatch(
    pwForwardKernel,
    { ...pwConstants(op, e), MASK_ROW: maskRow && e.mask ? 1 : 0 },
    buffers,
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
    bindingsByName(PW_BACKWARD, {
      pb_x: xb,
      pb_t: t.bufferFor(op),
      pb_mask: e.mask ? e.mask.bufferFor(op) : xb,
      pb_w: e.weight ? e.weight.bufferFor(op) : xb,
      pb_pw: pw !== null && typeof pw !== 'number' ? pw.bufferFor(op) : xb,
      pb_g: g.bufferFor(op),
      pb_dx: dx.bufferFor(op),
      pb_dt: (dt ?? spare!).bufferFor(op),
    }),
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
  const u = packUniformBlock(RATIO, { ia, ib, floor, pad0: 0 });
  y.runtime.dispatch(ratioKernel, { WG }, bindingsByName(RATIO, { ra_a: ab, ra_b: bb, ra_y: y.bufferFor('mean') }), new Uint8Array(u), [1, 1, 1]);
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
  if (n > 0) {
    const buffers = bindingsByName(LABEL_CHECK, { lc_t: tb, lc_flags: flags.bufferFor('validateLabels') });
    flags.runtime.dispatch(labelCheckKernel, { WG }, buffers, ceUniform(LABEL_CHECK, n, c, 1, ignore), grid(Math.ceil(n / WG)));
  }
  return flags;
}

/** The `Cos` uniform block (both cosine entry points share it). */
function cosUniform(g: CeGeom, eps: number, scale: number): Uint8Array {
  return new Uint8Array(packUniformBlock(COS_FORWARD, { p: g.n * g.s, c: g.c, s: g.s, eps, scale, pad0: 0, pad1: 0, pad2: 0 }));
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
    bindingsByName(COS_FORWARD, { nf_x: xb, nf_t: t.bufferFor('normalLoss'), nf_mask: mask ? mask.bufferFor('normalLoss') : xb, nf_out: out.bufferFor('normalLoss') }),
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
    bindingsByName(COS_BACKWARD, { nb_x: xb, nb_t: t.bufferFor('normalLoss'), nb_mask: mask ? mask.bufferFor('normalLoss') : xb, nb_g: g.bufferFor('normalLoss'), nb_dx: dx.bufferFor('normalLoss') }),
    cosUniform(geom, eps, scale),
    grid(Math.ceil(p / WG)),
  );
  return dx;
}

