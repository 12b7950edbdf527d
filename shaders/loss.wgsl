// Dense-prediction losses.
//
// ce_forward:   one invocation per pixel p = (n, s) of logits [N, C, S] and labels [N, S] (i32):
//               lse = logsumexp over C (max-shifted), loss = w[t] * (lse - x[t]); an ignored label
//               gives loss 0 and weight 0; a label outside [0, C) gives NaN for both (so a reduced
//               loss is NaN: no readback is needed to notice it). Writes loss[p], and with MEAN the
//               weight at loss[P + p], and lse[p] for the backward pass.
// ce_backward:  dx[n, c, s] = g * w[t] * (exp(x - lse) - [c == t]); g is g[p] (reduction 'none')
//               or g[0]; ignored pixels get 0.
// pw_forward:   pointwise losses (OP: LOSS_L1 |x - t|, LOSS_MSE (x - t)^2, LOSS_BCE binary
//               cross-entropy with logits), times mask and weight (broadcast, see Walk); with
//               MASK_ROW the broadcast mask is written at out[n + i].
// pw_backward:  dx (and with GRAD_T dt) of g * scale * mask * w * loss(x, t); g per element or g[0].
// cos_forward / cos_backward: the cosine surface-normal loss per pixel (see there).
// ratio:        y[0] = a[ia] / max(b[ib], floor) (mean divisions that depend on GPU values).
// label_check:  flags[i] = 1 for labels outside [0, C) that are not ignore_index.
//
// Each entry point's contract (bindings, uniforms, overrides, op codes) is declared in
// src/ops/kernels/loss-descriptors.ts and checked against this file when a pipeline is created.
override WG: u32 = 64u;
override MEAN: bool = false;
override HAS_W: bool = false;
override G_EACH: bool = false;
override OP: u32 = 0u;
override HAS_MASK: bool = false;
override PW_MODE: u32 = 0u;   // pos_weight: POS_WEIGHT_NONE, _SCALAR (the uniform pw) or _TENSOR
override MASK_ROW: bool = false;
override GRAD_T: bool = false;

// The op codes of OP and PW_MODE, as the descriptors declare them.
const LOSS_L1: u32 = 0u;
const LOSS_MSE: u32 = 1u;
const LOSS_BCE: u32 = 2u;
const POS_WEIGHT_NONE: u32 = 0u;
const POS_WEIGHT_SCALAR: u32 = 1u;
const POS_WEIGHT_TENSOR: u32 = 2u;

struct Ce { p: u32, c: u32, s: u32, ignore: i32 }

struct Pw { n: u32, scale: f32, pw: f32, pad0: u32, geo: array<vec4<u32>, 3>, st: array<vec4<u32>, 3> }

struct Ratio { ia: u32, ib: u32, floor: f32, pad0: u32 }

struct Cos { p: u32, c: u32, s: u32, eps: f32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }

// Each entry point has its own bindings (storage first, the uniform block last); WGSL allows two
// entry points of one module to use the same binding numbers for different variables.

// ce_forward
@group(0) @binding(0) var<storage, read> cf_x: array<f32>;
@group(0) @binding(1) var<storage, read> cf_t: array<i32>;
@group(0) @binding(2) var<storage, read> cf_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> cf_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> cf_lse: array<f32>;
@group(0) @binding(5) var<uniform> cf: Ce;

// ce_backward
@group(0) @binding(0) var<storage, read> cb_x: array<f32>;
@group(0) @binding(1) var<storage, read> cb_t: array<i32>;
@group(0) @binding(2) var<storage, read> cb_w: array<f32>;
@group(0) @binding(3) var<storage, read> cb_lse: array<f32>;
@group(0) @binding(4) var<storage, read> cb_g: array<f32>;
@group(0) @binding(5) var<storage, read_write> cb_dx: array<f32>;
@group(0) @binding(6) var<uniform> cb: Ce;

// pw_forward
@group(0) @binding(0) var<storage, read> pf_x: array<f32>;
@group(0) @binding(1) var<storage, read> pf_t: array<f32>;
@group(0) @binding(2) var<storage, read> pf_mask: array<f32>;
@group(0) @binding(3) var<storage, read> pf_w: array<f32>;
@group(0) @binding(4) var<storage, read> pf_pw: array<f32>;
@group(0) @binding(5) var<storage, read_write> pf_out: array<f32>;
@group(0) @binding(6) var<uniform> pf: Pw;

// pw_backward
@group(0) @binding(0) var<storage, read> pb_x: array<f32>;
@group(0) @binding(1) var<storage, read> pb_t: array<f32>;
@group(0) @binding(2) var<storage, read> pb_mask: array<f32>;
@group(0) @binding(3) var<storage, read> pb_w: array<f32>;
@group(0) @binding(4) var<storage, read> pb_pw: array<f32>;
@group(0) @binding(5) var<storage, read> pb_g: array<f32>;
@group(0) @binding(6) var<storage, read_write> pb_dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> pb_dt: array<f32>;
@group(0) @binding(8) var<uniform> pb: Pw;

// cos_forward
@group(0) @binding(0) var<storage, read> nf_x: array<f32>;
@group(0) @binding(1) var<storage, read> nf_t: array<f32>;
@group(0) @binding(2) var<storage, read> nf_mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> nf_out: array<f32>;
@group(0) @binding(4) var<uniform> nf: Cos;

// cos_backward
@group(0) @binding(0) var<storage, read> nb_x: array<f32>;
@group(0) @binding(1) var<storage, read> nb_t: array<f32>;
@group(0) @binding(2) var<storage, read> nb_mask: array<f32>;
@group(0) @binding(3) var<storage, read> nb_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> nb_dx: array<f32>;
@group(0) @binding(5) var<uniform> nb: Cos;

// ratio
@group(0) @binding(0) var<storage, read> ra_a: array<f32>;
@group(0) @binding(1) var<storage, read> ra_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> ra_y: array<f32>;
@group(0) @binding(3) var<uniform> ra: Ratio;

// label_check
@group(0) @binding(0) var<storage, read> lc_t: array<i32>;
@group(0) @binding(1) var<storage, read_write> lc_flags: array<f32>;
@group(0) @binding(2) var<uniform> lc: Ce;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// NaN test by bit pattern: WGSL lets compilers assume no NaNs (lavapipe folds `v != v` to false).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// A quiet NaN built at run time (constant expressions may not be NaN); `zero` is a runtime 0.
fn nan(zero: u32) -> f32 {
  return bitcast<f32>(0x7fc00000u | zero);
}

@compute @workgroup_size(WG)
fn ce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = linear(gid, nwg);
  if (p >= cf.p) { return; }
  let n = p / cf.s;
  let base = n * cf.c * cf.s + (p - n * cf.s);
  var m = cf_x[base];
  for (var c = 1u; c < cf.c; c++) {
    let v = cf_x[base + c * cf.s];
    if (v > m || is_nan(v)) { m = v; }
  }
  // An infinite maximum shifts by 0 (as logsumexp): +inf gives lse = +inf, not NaN.
  let inf = bitcast<f32>(0x7f800000u | (cf.p & 0u));
  let shift = select(m, 0.0, m == inf || m == -inf);
  var se = 0.0;
  for (var c = 0u; c < cf.c; c++) { se += exp(cf_x[base + c * cf.s] - shift); }
  let lse = log(se) + shift;
  let t = cf_t[p];
  var loss = 0.0;
  var wt = 0.0;
  if (t != cf.ignore) {
    if (t < 0 || t >= i32(cf.c)) {
      loss = nan(cf.p & 0u);
      wt = loss;
    } else {
      wt = 1.0;
      if (HAS_W) { wt = cf_w[t]; }
      loss = wt * (lse - cf_x[base + u32(t) * cf.s]);
    }
  }
  cf_loss[p] = loss;
  if (MEAN) { cf_loss[cf.p + p] = wt; }
  cf_lse[p] = lse;
}

@compute @workgroup_size(WG)
fn ce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = linear(gid, nwg);
  if (p >= cb.p) { return; }
  let n = p / cb.s;
  let base = n * cb.c * cb.s + (p - n * cb.s);
  let t = cb_t[p];
  if (t == cb.ignore) {
    for (var c = 0u; c < cb.c; c++) { cb_dx[base + c * cb.s] = 0.0; }
    return;
  }
  var coef = 0.0;
  if (G_EACH) { coef = cb_g[p]; } else { coef = cb_g[0]; }
  if (t < 0 || t >= i32(cb.c)) {
    coef = nan(cb.p & 0u);
  } else if (HAS_W) {
    coef *= cb_w[t];
  }
  let lse = cb_lse[p];
  for (var c = 0u; c < cb.c; c++) {
    let j = base + c * cb.s;
    let hit = select(0.0, 1.0, i32(c) == t);
    cb_dx[j] = coef * (exp(cb_x[j] - lse) - hit);
  }
}

// log(1 + z) for z in [0, 1], accurate also for tiny z (WGSL has no log1p).
fn log1p_small(z: f32) -> f32 {
  if (z < 0.1) {
    // Taylor series to z^8: the truncation error is below 1e-9 relative.
    return z * (1.0 - z * (1.0 / 2.0 - z * (1.0 / 3.0 - z * (1.0 / 4.0 - z * (1.0 / 5.0 - z * (1.0 / 6.0 - z * (1.0 / 7.0 - z * (1.0 / 8.0))))))));
  }
  return log(1.0 + z);
}

// log(1 + exp(-x)) without overflow: log1p(exp(-|x|)) + max(-x, 0).
fn softplus_neg(x: f32) -> f32 {
  return log1p_small(exp(-abs(x))) + max(-x, 0.0);
}

// Pointwise losses read up to three broadcast operands (mask, weight, pos_weight). Operand k sees
// the flat element index e as (o, m, i) over extents geo[k] = (M*I, I, M, broadcast?) and reads
// o*st.x + m*st.y + i*st.z (a stride 0 repeats it); with geo.w = 0 it has x's shape and reads e.
// Each invocation handles 4 consecutive elements and walks (o, m, i) forward, so the two integer
// divisions (slow on CPU adapters) happen once per invocation, not per element.
struct Walk { o: u32, m: u32, i: u32 }

fn walk_start(g: vec4<u32>, e: u32) -> Walk {
  if (g.w == 0u) { return Walk(0u, 0u, e); }
  let o = e / g.x;
  let r = e - o * g.x;
  let m = r / g.y;
  return Walk(o, m, r - m * g.y);
}

fn walk_next(w: Walk, g: vec4<u32>) -> Walk {
  var r = w;
  r.i += 1u;
  if (g.w != 0u && r.i == g.y) {
    r.i = 0u;
    r.m += 1u;
    if (r.m == g.z) {
      r.m = 0u;
      r.o += 1u;
    }
  }
  return r;
}

fn walk_index(w: Walk, g: vec4<u32>, st: vec4<u32>) -> u32 {
  if (g.w == 0u) { return w.i; }
  return w.o * st.x + w.m * st.y + w.i * st.z;
}

// The loss of one element (before mask and weight).
fn pw_loss(x: f32, t: f32, pwv: f32) -> f32 {
  if (OP == LOSS_L1) { return abs(x - t); }
  if (OP == LOSS_MSE) { return (x - t) * (x - t); }
  // PyTorch's binary_cross_entropy_with_logits: (1 - t) x + lw log(1 + e^-x), lw = 1 + (pw - 1) t.
  // With log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0), the linear terms cancel exactly for x < 0
  // to -pw t x, so a confident correct prediction keeps its tiny loss instead of rounding to 0.
  let lw = 1.0 + (pwv - 1.0) * t;
  return select((1.0 - t) * x, -pwv * t * x, x < 0.0) + lw * log1p_small(exp(-abs(x)));
}

// (d loss / dx, d loss / dt) of one element.
fn pw_grad(x: f32, t: f32, pwv: f32) -> vec2<f32> {
  if (OP == LOSS_L1) {
    // d|d| = sign(d), 0 at d = 0 (as PyTorch)
    let d = x - t;
    let s = select(select(0.0, -1.0, d < 0.0), 1.0, d > 0.0);
    return vec2<f32>(s, -s);
  }
  if (OP == LOSS_MSE) {
    // d (x - t)^2 = 2 (x - t) (dx - dt)
    return vec2<f32>(2.0 * (x - t), -2.0 * (x - t));
  }
  // dl/dx = (1 - t) - lw sigmoid(-x); dl/dt = -x + (pw - 1) log(1 + e^-x)
  let lw = 1.0 + (pwv - 1.0) * t;
  return vec2<f32>((1.0 - t) - lw / (1.0 + exp(x)), -x + (pwv - 1.0) * softplus_neg(x));
}

@compute @workgroup_size(WG)
fn pw_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e0 = linear(gid, nwg) * 4u;
  if (e0 >= pf.n) { return; }
  var wm = walk_start(pf.geo[0], e0);
  var ww = walk_start(pf.geo[1], e0);
  var wp = walk_start(pf.geo[2], e0);
  let e1 = min(pf.n, e0 + 4u);
  for (var e = e0; e < e1; e++) {
    var pwv = 1.0;
    if (PW_MODE == POS_WEIGHT_SCALAR) { pwv = pf.pw; }
    if (PW_MODE == POS_WEIGHT_TENSOR) { pwv = pf_pw[walk_index(wp, pf.geo[2], pf.st[2])]; }
    var k = 1.0;
    var m = 1.0;
    if (HAS_MASK) { m = pf_mask[walk_index(wm, pf.geo[0], pf.st[0])]; }
    if (HAS_W) { k = pf_w[walk_index(ww, pf.geo[1], pf.st[1])]; }
    // A masked-out element contributes exactly 0, even where its loss is inf or NaN.
    pf_out[e] = select(pw_loss(pf_x[e], pf_t[e], pwv) * k * m, 0.0, m == 0.0);
    if (MASK_ROW) { pf_out[pf.n + e] = m; }
    wm = walk_next(wm, pf.geo[0]);
    ww = walk_next(ww, pf.geo[1]);
    wp = walk_next(wp, pf.geo[2]);
  }
}

@compute @workgroup_size(WG)
fn pw_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e0 = linear(gid, nwg) * 4u;
  if (e0 >= pb.n) { return; }
  var wm = walk_start(pb.geo[0], e0);
  var ww = walk_start(pb.geo[1], e0);
  var wp = walk_start(pb.geo[2], e0);
  let e1 = min(pb.n, e0 + 4u);
  for (var e = e0; e < e1; e++) {
    var pwv = 1.0;
    if (PW_MODE == POS_WEIGHT_SCALAR) { pwv = pb.pw; }
    if (PW_MODE == POS_WEIGHT_TENSOR) { pwv = pb_pw[walk_index(wp, pb.geo[2], pb.st[2])]; }
    var g = 0.0;
    if (G_EACH) { g = pb_g[e]; } else { g = pb_g[0]; }
    var m = 1.0;
    if (HAS_MASK) { m = pb_mask[walk_index(wm, pb.geo[0], pb.st[0])]; }
    if (HAS_W) { g *= pb_w[walk_index(ww, pb.geo[1], pb.st[1])]; }
    let d = select(pw_grad(pb_x[e], pb_t[e], pwv) * (g * pb.scale * m), vec2<f32>(0.0), m == 0.0);
    pb_dx[e] = d.x;
    if (GRAD_T) { pb_dt[e] = d.y; }
    wm = walk_next(wm, pb.geo[0]);
    ww = walk_next(ww, pb.geo[1]);
    wp = walk_next(wp, pb.geo[2]);
  }
}

// Cosine normal loss per pixel p = (n, s) of pred and unit target [N, C, S]: with
// u = x / max(|x|, eps), v = mask * (1 - <u, t>) (exactly 0 where mask = 0). The gradient of
// -<u, t> is -(t - u <u, t>) / |x| where |x| >= eps, else -t / eps (the clamp holds the
// denominator constant).
@compute @workgroup_size(WG)
fn cos_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = linear(gid, nwg);
  if (p >= nf.p) { return; }
  let n = p / nf.s;
  let base = n * nf.c * nf.s + (p - n * nf.s);
  var xx = 0.0;
  var xt = 0.0;
  for (var c = 0u; c < nf.c; c++) {
    let x = nf_x[base + c * nf.s];
    xx += x * x;
    xt += x * nf_t[base + c * nf.s];
  }
  let cosv = xt / max(sqrt(xx), nf.eps);
  var m = 1.0;
  if (HAS_MASK) { m = nf_mask[p]; }
  nf_out[p] = select((1.0 - cosv) * m, 0.0, m == 0.0);
  if (MASK_ROW) { nf_out[nf.p + p] = m; }
}

@compute @workgroup_size(WG)
fn cos_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = linear(gid, nwg);
  if (p >= nb.p) { return; }
  let n = p / nb.s;
  let base = n * nb.c * nb.s + (p - n * nb.s);
  var g = 0.0;
  if (G_EACH) { g = nb_g[p]; } else { g = nb_g[0]; }
  g *= nb.scale;
  var m = 1.0;
  if (HAS_MASK) { m = nb_mask[p]; }
  var xx = 0.0;
  var xt = 0.0;
  for (var c = 0u; c < nb.c; c++) {
    let x = nb_x[base + c * nb.s];
    xx += x * x;
    xt += x * nb_t[base + c * nb.s];
  }
  let len = sqrt(xx);
  let inv = 1.0 / max(len, nb.eps);
  let through = len >= nb.eps;
  // d(1 - <u, t>) = -(t - u <u, t>) / |x| . dx  (or -t / eps . dx below eps)
  let k = select(0.0, xt * inv * inv, through);
  let coef = select(-g * m * inv, 0.0, m == 0.0);
  for (var c = 0u; c < nb.c; c++) {
    let j = base + c * nb.s;
    nb_dx[j] = coef * (nb_t[j] - nb_x[j] * k);
  }
}

@compute @workgroup_size(WG)
fn ratio(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x > 0u) { return; }
  ra_y[0] = ra_a[ra.ia] / max(ra_b[ra.ib], ra.floor);
}

@compute @workgroup_size(WG)
fn label_check(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear(gid, nwg);
  if (i >= lc.p) { return; }
  let t = lc_t[i];
  lc_flags[i] = select(0.0, 1.0, t != lc.ignore && (t < 0 || t >= i32(lc.c)));
}
