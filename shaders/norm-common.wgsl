// The normalisation kernels' per-element passes, written once over the element type `Elem`:
// shaders/norm.wgsl includes this file with Elem = f32, shaders/norm-vec4.wgsl with Elem = vec4<f32>
// (rows counted in vec4s). Each includer declares before the include
//   alias Elem, alias ElemBits (its u32 counterpart), const LANES (scalars per Elem),
//   fn hsum(Elem) -> f32 (the sum of its lanes) and fn lane0(Elem) -> f32 (its first lane),
// and wraps each pass `*_at(t)` below in an entry point of its own name. Compilers inline the
// wrappers, so the vec4 pipelines are the scalar ones with wider loads, as when both were written
// out. What each pass computes is told in norm.wgsl's header.
//
// AFF_COL (layer norm's per-column affine) and W_COL (per-column weight in the gradient sums) index
// the affine per scalar column: only the scalar kernels set them (src/ops/kernels/norm.ts takes the
// vec4 kernels for per-row affine only).
override WG: u32 = 64u;
override HAS_W: bool = false;
override HAS_B: bool = false;
override AFF_COL: bool = false;
override W_COL: bool = false;
override BATCH: bool = true;
override HAS_R: bool = false;
override EVAL_STATS: bool = false;
override RELU: bool = false;
override MASK: bool = false;
override WRITE_R: bool = false;
override HAS_CB: bool = false;

struct Red {
  a: u32, m: u32, b: u32, sb: u32,
  ach: u32, ac: u32, sa: u32, sm: u32,
  sdiv: u32, pad0: u32, pad1: u32, pad2: u32,
}

struct Apply { rows: u32, l: u32, j: u32, sdiv: u32, smod: u32, c: u32, eps: f32, pad0: u32 }

struct FoldConv { o: u32, k: u32, eps: f32, pad0: u32 }

// Each entry point has its own bindings (storage first, the uniform block last); WGSL allows two
// entry points of one module to use the same binding numbers for different variables. Each pass's
// bindings stand before it; the contracts are in src/ops/kernels/norm-descriptors.ts.

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// ReLU that keeps NaN, as the unary relu kernel (the builtin max need not).
fn relu_nan(v: Elem) -> Elem {
  return select(max(v, Elem(0.0)), v, (bitcast<ElemBits>(v) & ElemBits(0x7fffffffu)) > ElemBits(0x7f800000u));
}

// d relu: the output gradient where the fused ReLU's output is positive, as the reluGrad kernel.
fn relu_mask(g: Elem, y: Elem) -> Elem {
  return select(Elem(0.0), g, y > Elem(0.0));
}

// Which (m, ac, sb) an invocation of a split reduction handles; sb varies fastest.
struct Slot { m: u32, ac: u32, sb: u32, p: u32, np: u32 }

fn slot(t: u32, r: Red) -> Slot {
  let sb = t % r.sb;
  let rest = t / r.sb;
  let m = rest % r.m;
  let ac = rest / r.m;
  return Slot(m, ac, sb, ac * r.sb + sb, r.ac * r.sb);
}

// Statistics index (row / sdiv) % smod, skipping the integer divisions (slow on CPU adapters)
// where they are no-ops.
fn stats_index(row: u32, sdiv: u32, smod: u32) -> u32 {
  var r = row;
  if (sdiv != 1u) { r = r / sdiv; }
  if (r >= smod) { r = r % smod; }
  return r;
}

// stats_partial
@group(0) @binding(0) var<storage, read> sp_x: array<Elem>;
@group(0) @binding(1) var<storage, read_write> sp_part: array<f32>;
@group(0) @binding(2) var<uniform> sp: Red;

fn stats_partial_at(t: u32) {
  if (t >= sp.m * sp.ac * sp.sb) { return; }
  let s = slot(t, sp);
  let a0 = s.ac * sp.ach;
  let a1 = min(sp.a, a0 + sp.ach);
  var shift = 0.0;
  var per_row = 0u;
  if (s.sb < sp.b && a0 < a1) {
    shift = lane0(sp_x[(a0 * sp.m + s.m) * sp.b + s.sb]);
    per_row = LANES * ((sp.b - s.sb + sp.sb - 1u) / sp.sb);
  }
  var s1 = Elem(0.0);
  var s2 = Elem(0.0);
  for (var a = a0; a < a1; a++) {
    let base = (a * sp.m + s.m) * sp.b;
    for (var b = s.sb; b < sp.b; b += sp.sb) {
      let d = sp_x[base + b] - shift;
      s1 += d;
      s2 += d * d;
    }
  }
  var n = 0.0;
  if (a0 < a1) { n = f32(per_row) * f32(a1 - a0); }
  var mean = 0.0;
  var m2 = 0.0;
  if (n > 0.0) {
    let t1 = hsum(s1);
    mean = shift + t1 / n;
    m2 = max(hsum(s2) - t1 * t1 / n, 0.0);
  }
  let o = (s.m * s.np + s.p) * 3u;
  sp_part[o] = n;
  sp_part[o + 1u] = mean;
  sp_part[o + 2u] = m2;
}

// apply
@group(0) @binding(0) var<storage, read> ap_x: array<Elem>;
@group(0) @binding(1) var<storage, read> ap_stats: array<f32>;
@group(0) @binding(2) var<storage, read> ap_w: array<f32>;
@group(0) @binding(3) var<storage, read> ap_b: array<f32>;
@group(0) @binding(4) var<storage, read> ap_r: array<Elem>;
@group(0) @binding(5) var<storage, read> ap_rvar: array<f32>;
@group(0) @binding(6) var<storage, read_write> ap_y: array<Elem>;
@group(0) @binding(7) var<uniform> ap: Apply;

fn apply_at(t: u32) {
  if (t >= ap.rows * ap.j) { return; }
  // Invocation (row, lane) handles columns lane, lane + j, ... of its row: neighbouring
  // invocations touch neighbouring addresses, and the divisions happen once per invocation.
  let row = t / ap.j;
  let lane = t - row * ap.j;
  let s = stats_index(row, ap.sdiv, ap.smod);
  var mean = 0.0;
  var scale = 0.0;
  if (EVAL_STATS) {
    mean = ap_stats[s];
    scale = inverseSqrt(ap_rvar[s] + ap.eps);
  } else {
    mean = ap_stats[2u * s];
    scale = ap_stats[2u * s + 1u];
  }
  var shift = 0.0;
  if (!AFF_COL) {
    let ai = row % ap.c;
    if (HAS_W) { scale *= ap_w[ai]; }
    if (HAS_B) { shift = ap_b[ai]; }
  }
  // (x - mean) first: no cancellation when |mean| >> std.
  let base = row * ap.l;
  for (var col = lane; col < ap.l; col += ap.j) {
    var y = (ap_x[base + col] - mean) * scale + shift;
    if (AFF_COL) {
      if (HAS_W) { y *= ap_w[col]; }
      if (HAS_B) { y += ap_b[col]; }
    }
    if (HAS_R) { y += ap_r[base + col]; }
    if (RELU) { y = relu_nan(y); }
    ap_y[base + col] = y;
  }
}

// grad_partial
@group(0) @binding(0) var<storage, read> gp_x: array<Elem>;
@group(0) @binding(1) var<storage, read> gp_gy: array<Elem>;
@group(0) @binding(2) var<storage, read> gp_stats: array<f32>;
@group(0) @binding(3) var<storage, read> gp_w: array<f32>;
@group(0) @binding(4) var<storage, read> gp_y: array<Elem>;
@group(0) @binding(5) var<storage, read_write> gp_part: array<f32>;
@group(0) @binding(6) var<uniform> gp: Red;

fn grad_partial_at(t: u32) {
  if (t >= gp.m * gp.ac * gp.sb) { return; }
  let s = slot(t, gp);
  let a0 = s.ac * gp.ach;
  let a1 = min(gp.a, a0 + gp.ach);
  var s1 = Elem(0.0);
  var s2 = Elem(0.0);
  if (gp.b == 1u && gp.sdiv == 1u) {
    // One element per (a, m), e.g. layer norm's column sums: no inner loop.
    for (var a = a0; a < a1; a++) {
      let si = a * gp.sa + s.m * gp.sm;
      let i = a * gp.m + s.m;
      var g = gp_gy[i];
      if (MASK) { g = relu_mask(g, gp_y[i]); }
      if (W_COL) { g *= gp_w[0]; }
      s1 += g;
      s2 += g * ((gp_x[i] - gp_stats[2u * si]) * gp_stats[2u * si + 1u]);
    }
  } else {
    for (var a = a0; a < a1; a++) {
      var si = a * gp.sa + s.m * gp.sm;
      if (gp.sdiv != 1u) { si = si / gp.sdiv; }
      let mean = gp_stats[2u * si];
      let inv = gp_stats[2u * si + 1u];
      let base = (a * gp.m + s.m) * gp.b;
      for (var b = s.sb; b < gp.b; b += gp.sb) {
        var g = gp_gy[base + b];
        if (MASK) { g = relu_mask(g, gp_y[base + b]); }
        if (W_COL) { g *= gp_w[b]; }
        s1 += g;
        s2 += g * ((gp_x[base + b] - mean) * inv);
      }
    }
  }
  let o = (s.m * s.np + s.p) * 2u;
  gp_part[o] = hsum(s1);
  gp_part[o + 1u] = hsum(s2);
}

// apply_grad
@group(0) @binding(0) var<storage, read> ag_x: array<Elem>;
@group(0) @binding(1) var<storage, read> ag_gy: array<Elem>;
@group(0) @binding(2) var<storage, read> ag_stats: array<f32>;
@group(0) @binding(3) var<storage, read> ag_ks: array<f32>;
@group(0) @binding(4) var<storage, read> ag_w: array<f32>;
@group(0) @binding(5) var<storage, read> ag_y: array<Elem>;
@group(0) @binding(6) var<storage, read_write> ag_dx: array<Elem>;
@group(0) @binding(7) var<storage, read_write> ag_dr: array<Elem>;
@group(0) @binding(8) var<uniform> ag: Apply;

fn apply_grad_at(t: u32) {
  if (t >= ag.rows * ag.j) { return; }
  let row = t / ag.j;
  let lane = t - row * ag.j;
  let s = stats_index(row, ag.sdiv, ag.smod);
  let mean = ag_stats[2u * s];
  let inv = ag_stats[2u * s + 1u];
  var k1 = 0.0;
  var k2 = 0.0;
  if (BATCH) {
    k1 = ag_ks[2u * s];
    k2 = ag_ks[2u * s + 1u];
  }
  var wrow = 1.0;
  if (HAS_W && !AFF_COL) { wrow = ag_w[row % ag.c]; }
  let base = row * ag.l;
  for (var col = lane; col < ag.l; col += ag.j) {
    let i = base + col;
    var wv = wrow;
    if (HAS_W && AFF_COL) { wv = ag_w[col]; }
    var g = ag_gy[i];
    if (MASK) { g = relu_mask(g, ag_y[i]); }
    if (WRITE_R) { ag_dr[i] = g; }
    let xhat = (ag_x[i] - mean) * inv;
    ag_dx[i] = inv * (g * wv - k1 - xhat * k2);
  }
}

// fold_conv: the conv weights are Elems (k counts them), the per-channel tables scalars.
@group(0) @binding(0) var<storage, read> fc_cw: array<Elem>;
@group(0) @binding(1) var<storage, read> fc_rmean: array<f32>;
@group(0) @binding(2) var<storage, read> fc_rvar: array<f32>;
@group(0) @binding(3) var<storage, read> fc_w: array<f32>;
@group(0) @binding(4) var<storage, read> fc_b: array<f32>;
@group(0) @binding(5) var<storage, read> fc_cb: array<f32>;
@group(0) @binding(6) var<storage, read_write> fc_wout: array<Elem>;
@group(0) @binding(7) var<storage, read_write> fc_bout: array<f32>;
@group(0) @binding(8) var<uniform> fc: FoldConv;

fn fold_conv_at(t: u32) {
  // fc.k counts Elems.
  if (t >= fc.o * fc.k) { return; }
  // Weight element t of output channel t / k; the first o invocations also fold the bias.
  let o = t / fc.k;
  var s = inverseSqrt(fc_rvar[o] + fc.eps);
  if (HAS_W) { s *= fc_w[o]; }
  fc_wout[t] = fc_cw[t] * s;
  if (t < fc.o) {
    let c = t;
    var si = inverseSqrt(fc_rvar[c] + fc.eps);
    if (HAS_W) { si *= fc_w[c]; }
    var cb = 0.0;
    if (HAS_CB) { cb = fc_cb[c]; }
    var b = 0.0;
    if (HAS_B) { b = fc_b[c]; }
    fc_bout[c] = b + (cb - fc_rmean[c]) * si;
  }
}
