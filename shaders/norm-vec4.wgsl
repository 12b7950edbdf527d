// vec4 variants of norm.wgsl's per-element passes, for views whose rows (B for the reductions,
// L for the row passes) are a multiple of 4 long: the same maths and the same uniforms, with every
// size that counts columns (B, sb, L, j) counted in vec4s. On CPU adapters a vec4 load costs about
// half of four scalar loads and the loop overhead is shared by four elements (see norm.wgsl for
// the layouts and what each pass computes).
//
// stats_partial4: part[m, p] = (count, mean, M2) of its elements, shifted by its first element.
// apply4:         y = (x - mean) * invstd * w + b, affine index row % C (no per-column affine),
//                 then + r (HAS_R) and ReLU (RELU), batch norm's fused epilogue; EVAL_STATS as in
//                 norm.wgsl's apply.
// grad_partial4:  part[m, p] = (sum g, sum g * xhat), g = gy (no per-column weight), or with MASK
//                 g = [y > 0] gy through the fused ReLU (y the saved output).
// apply_grad4:    dx = invstd * (g * w - k1 - xhat * k2), g as in grad_partial4; WRITE_R also
//                 stores g, the fused residual's gradient.
// fold_conv4:     norm.wgsl's fold_conv for convs whose output channels hold 4k weights (the
//                 weights counted in vec4s; the bias still per channel).
override WG: u32 = 64u;
override HAS_W: bool = false;
override HAS_B: bool = false;
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

struct Apply { rows: u32, l: u32, j: u32, sdiv: u32, smod: u32, c: u32, eps: f32, pad1: u32 }

@group(0) @binding(0) var<storage, read> sp_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> sp_part: array<f32>;
@group(0) @binding(2) var<uniform> sp: Red;

@group(0) @binding(0) var<storage, read> ap_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ap_stats: array<f32>;
@group(0) @binding(2) var<storage, read> ap_w: array<f32>;
@group(0) @binding(3) var<storage, read> ap_b: array<f32>;
@group(0) @binding(4) var<storage, read> ap_r: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> ap_rvar: array<f32>;
@group(0) @binding(6) var<storage, read_write> ap_y: array<vec4<f32>>;
@group(0) @binding(7) var<uniform> ap: Apply;

@group(0) @binding(0) var<storage, read> gp_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> gp_gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gp_stats: array<f32>;
@group(0) @binding(3) var<storage, read> gp_y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> gp_part: array<f32>;
@group(0) @binding(5) var<uniform> gp: Red;

@group(0) @binding(0) var<storage, read> ag_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ag_gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ag_stats: array<f32>;
@group(0) @binding(3) var<storage, read> ag_ks: array<f32>;
@group(0) @binding(4) var<storage, read> ag_w: array<f32>;
@group(0) @binding(5) var<storage, read> ag_y: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> ag_dx: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> ag_dr: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> ag: Apply;

struct FoldConv { o: u32, k: u32, eps: f32, pad0: u32 }
@group(0) @binding(0) var<storage, read> fc_cw: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> fc_rmean: array<f32>;
@group(0) @binding(2) var<storage, read> fc_rvar: array<f32>;
@group(0) @binding(3) var<storage, read> fc_w: array<f32>;
@group(0) @binding(4) var<storage, read> fc_b: array<f32>;
@group(0) @binding(5) var<storage, read> fc_cb: array<f32>;
@group(0) @binding(6) var<storage, read_write> fc_wout: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> fc_bout: array<f32>;
@group(0) @binding(8) var<uniform> fc: FoldConv;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

struct Slot { m: u32, ac: u32, sb: u32, p: u32, np: u32 }

fn slot(t: u32, r: Red) -> Slot {
  let sb = t % r.sb;
  let rest = t / r.sb;
  let m = rest % r.m;
  let ac = rest / r.m;
  return Slot(m, ac, sb, ac * r.sb + sb, r.ac * r.sb);
}

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// ReLU that keeps NaN, as the unary relu kernel (the builtin max need not).
fn relu_nan(v: vec4<f32>) -> vec4<f32> {
  return select(max(v, vec4<f32>(0.0)), v, (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}

// d relu: the output gradient where the fused ReLU's output is positive, as the reluGrad kernel.
fn relu_mask(g: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
  return select(vec4<f32>(0.0), g, y > vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn stats_partial4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  if (t >= sp.m * sp.ac * sp.sb) { return; }
  let s = slot(t, sp);
  let a0 = s.ac * sp.ach;
  let a1 = min(sp.a, a0 + sp.ach);
  var shift = 0.0;
  var per_row = 0u;
  if (s.sb < sp.b && a0 < a1) {
    shift = sp_x[(a0 * sp.m + s.m) * sp.b + s.sb].x;
    per_row = 4u * ((sp.b - s.sb + sp.sb - 1u) / sp.sb);
  }
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
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

// Statistics index (row / sdiv) % smod, skipping the integer divisions where they are no-ops.
fn stats_index(row: u32, sdiv: u32, smod: u32) -> u32 {
  var r = row;
  if (sdiv != 1u) { r = r / sdiv; }
  if (r >= smod) { r = r % smod; }
  return r;
}

@compute @workgroup_size(WG)
fn apply4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  if (t >= ap.rows * ap.j) { return; }
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
  let ai = row % ap.c;
  if (HAS_W) { scale *= ap_w[ai]; }
  if (HAS_B) { shift = ap_b[ai]; }
  // (x - mean) first, as norm.wgsl: no cancellation when |mean| >> std.
  let base = row * ap.l;
  for (var col = lane; col < ap.l; col += ap.j) {
    var y = (ap_x[base + col] - mean) * scale + shift;
    if (HAS_R) { y += ap_r[base + col]; }
    if (RELU) { y = relu_nan(y); }
    ap_y[base + col] = y;
  }
}

@compute @workgroup_size(WG)
fn grad_partial4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  if (t >= gp.m * gp.ac * gp.sb) { return; }
  let s = slot(t, gp);
  let a0 = s.ac * gp.ach;
  let a1 = min(gp.a, a0 + gp.ach);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  for (var a = a0; a < a1; a++) {
    var si = a * gp.sa + s.m * gp.sm;
    if (gp.sdiv != 1u) { si = si / gp.sdiv; }
    let mean = gp_stats[2u * si];
    let inv = gp_stats[2u * si + 1u];
    let base = (a * gp.m + s.m) * gp.b;
    for (var b = s.sb; b < gp.b; b += gp.sb) {
      var g = gp_gy[base + b];
      if (MASK) { g = relu_mask(g, gp_y[base + b]); }
      s1 += g;
      s2 += g * ((gp_x[base + b] - mean) * inv);
    }
  }
  let o = (s.m * s.np + s.p) * 2u;
  gp_part[o] = hsum(s1);
  gp_part[o + 1u] = hsum(s2);
}

@compute @workgroup_size(WG)
fn apply_grad4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
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
  var wv = 1.0;
  if (HAS_W) { wv = ag_w[row % ag.c]; }
  let base = row * ag.l;
  for (var col = lane; col < ag.l; col += ag.j) {
    let i = base + col;
    var g = ag_gy[i];
    if (MASK) { g = relu_mask(g, ag_y[i]); }
    if (WRITE_R) { ag_dr[i] = g; }
    let xhat = (ag_x[i] - mean) * inv;
    ag_dx[i] = inv * (g * wv - k1 - xhat * k2);
  }
}

@compute @workgroup_size(WG)
fn fold_conv4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  // fc.k counts vec4s here.
  if (t >= fc.o * fc.k) { return; }
  let o = t / fc.k;
  var s = inverseSqrt(fc_rvar[o] + fc.eps);
  if (HAS_W) { s *= fc_w[o]; }
  fc_wout[t] = fc_cw[t] * s;
  if (t < fc.o) {
    var si = inverseSqrt(fc_rvar[t] + fc.eps);
    if (HAS_W) { si *= fc_w[t]; }
    var cb = 0.0;
    if (HAS_CB) { cb = fc_cb[t]; }
    var b = 0.0;
    if (HAS_B) { b = fc_b[t]; }
    fc_bout[t] = b + (cb - fc_rmean[t]) * si;
  }
}
