// Normalisation family: batch norm, group norm and layer norm share these kernels (l2-normalise,
// F.normalize, is shaders/l2-normalize.wgsl).
//
// Reductions see x as an [A, M, B] view and reduce each m over every (a, b):
//   batch norm  [N, C, H*W]        (m = channel)
//   group norm  [1, N*G, Cg*H*W]   (m = (n, g), contiguous)
//   layer norm  [1, R, D]          (m = row)
// They are split so that a CPU adapter gets thousands of invocations: partial p = (ac, sb) of m
// covers rows a in [ac*ach, (ac+1)*ach) and, interleaved, columns b = sb, sb + SB, ... (so
// neighbouring invocations read neighbouring addresses). A second, small pass merges the P
// partials of each m.
//
// stats_partial:  part[m, p] = (count, mean, M2) of its elements, from sums shifted by the first
//                 element it reads (no cancellation when |mean| >> std).
// stats_final:    merges the partials (Chan et al.) into stats[m] = (mean, 1/sqrt(var + eps)), var
//                 biased; stats_running also updates running_mean/var in place with momentum and
//                 the unbiased variance, as PyTorch (and, with COUNT, adds 1 to num_batches_tracked).
// eval_stats:     stats[c] = (running_mean, 1/sqrt(running_var + eps)).
// apply:          y = (x - mean) * invstd * w + b over rows of length L (one invocation: every j-th
//                 element of one row); stats index s = (row / sdiv) % smod, affine index row % C
//                 or, for layer norm (AFF_COL), the column. Fused epilogue (batch norm): + r (HAS_R),
//                 then ReLU (RELU), so a ResNet block needs no separate add and relu passes. With
//                 EVAL_STATS (batch norm in eval mode without a gradient) the statistics binding
//                 holds the running mean and the invstd comes from the running variance here, as
//                 eval_stats would compute it, saving that dispatch.
// grad_partial:   part[m, p] = (sum g, sum g * xhat) with g = gy (* w[b] when W_COL) and the stats
//                 index (a * sa + m * sm) / sdiv, so one kernel gives per-group sums (x gradient) and,
//                 for layer norm seen as [R, D, 1], per-column sums (weight and bias gradients).
//                 With MASK, gy passes the fused ReLU first: g = [y > 0] gy, y the saved output.
// grad_fold:      per group s: ks[s] = (sum over its rows r of w[r % wmod] * part, times 1/count),
//                 and per channel c < C: db[c], dw[c] = sum over n < nrep of the row n*C + c.
// apply_grad:     dx = invstd * (gy * w - k1 - xhat * k2); with batch statistics (k1, k2) = the group
//                 means of (gy * w, gy * w * xhat), with fixed statistics (eval) both are 0. With
//                 MASK, gy is masked as in grad_partial; WRITE_R also stores that masked gy, the
//                 gradient of the fused residual, in the same pass.
// fold_conv:      eval-mode batch norm folded into the conv before it: per output channel o,
//                 s = w[o] / sqrt(var[o] + eps), conv weight' = conv weight * s and
//                 bias' = b[o] + (conv bias[o] - mean[o]) * s.
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
override COUNT: bool = false;
override HAS_CB: bool = false;

struct Red {
  a: u32, m: u32, b: u32, sb: u32,
  ach: u32, ac: u32, sa: u32, sm: u32,
  sdiv: u32, pad0: u32, pad1: u32, pad2: u32,
}

struct Final { m: u32, p: u32, eps: f32, momentum: f32 }

struct Apply { rows: u32, l: u32, j: u32, sdiv: u32, smod: u32, c: u32, eps: f32, pad1: u32 }

struct Fold { s: u32, cg: u32, c: u32, nrep: u32, p: u32, inv_cnt: f32, wmod: u32, pad0: u32 }

// Each entry point has its own bindings (storage first, the uniform block last); WGSL allows two
// entry points of one module to use the same binding numbers for different variables.

// stats_partial
@group(0) @binding(0) var<storage, read> sp_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> sp_part: array<f32>;
@group(0) @binding(2) var<uniform> sp: Red;

// stats_final / stats_running
@group(0) @binding(0) var<storage, read> sf_part: array<f32>;
@group(0) @binding(1) var<storage, read_write> sf_stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> sf_rmean: array<f32>;
@group(0) @binding(3) var<storage, read_write> sf_rvar: array<f32>;
@group(0) @binding(4) var<storage, read_write> sf_count: array<i32>;
@group(0) @binding(2) var<uniform> sf: Final;
@group(0) @binding(5) var<uniform> sfr: Final;

// eval_stats
@group(0) @binding(0) var<storage, read> es_rmean: array<f32>;
@group(0) @binding(1) var<storage, read> es_rvar: array<f32>;
@group(0) @binding(2) var<storage, read_write> es_stats: array<f32>;
@group(0) @binding(3) var<uniform> es: Final;

// apply
@group(0) @binding(0) var<storage, read> ap_x: array<f32>;
@group(0) @binding(1) var<storage, read> ap_stats: array<f32>;
@group(0) @binding(2) var<storage, read> ap_w: array<f32>;
@group(0) @binding(3) var<storage, read> ap_b: array<f32>;
@group(0) @binding(4) var<storage, read> ap_r: array<f32>;
@group(0) @binding(5) var<storage, read> ap_rvar: array<f32>;
@group(0) @binding(6) var<storage, read_write> ap_y: array<f32>;
@group(0) @binding(7) var<uniform> ap: Apply;

// grad_partial
@group(0) @binding(0) var<storage, read> gp_x: array<f32>;
@group(0) @binding(1) var<storage, read> gp_gy: array<f32>;
@group(0) @binding(2) var<storage, read> gp_stats: array<f32>;
@group(0) @binding(3) var<storage, read> gp_w: array<f32>;
@group(0) @binding(4) var<storage, read> gp_y: array<f32>;
@group(0) @binding(5) var<storage, read_write> gp_part: array<f32>;
@group(0) @binding(6) var<uniform> gp: Red;

// grad_fold
@group(0) @binding(0) var<storage, read> gf_part: array<f32>;
@group(0) @binding(1) var<storage, read> gf_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> gf_ks: array<f32>;
@group(0) @binding(3) var<storage, read_write> gf_db: array<f32>;
@group(0) @binding(4) var<storage, read_write> gf_dw: array<f32>;
@group(0) @binding(5) var<uniform> gf: Fold;

// apply_grad
@group(0) @binding(0) var<storage, read> ag_x: array<f32>;
@group(0) @binding(1) var<storage, read> ag_gy: array<f32>;
@group(0) @binding(2) var<storage, read> ag_stats: array<f32>;
@group(0) @binding(3) var<storage, read> ag_ks: array<f32>;
@group(0) @binding(4) var<storage, read> ag_w: array<f32>;
@group(0) @binding(5) var<storage, read> ag_y: array<f32>;
@group(0) @binding(6) var<storage, read_write> ag_dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> ag_dr: array<f32>;
@group(0) @binding(8) var<uniform> ag: Apply;

// fold_conv
struct FoldConv { o: u32, k: u32, eps: f32, pad0: u32 }
@group(0) @binding(0) var<storage, read> fc_cw: array<f32>;
@group(0) @binding(1) var<storage, read> fc_rmean: array<f32>;
@group(0) @binding(2) var<storage, read> fc_rvar: array<f32>;
@group(0) @binding(3) var<storage, read> fc_w: array<f32>;
@group(0) @binding(4) var<storage, read> fc_b: array<f32>;
@group(0) @binding(5) var<storage, read> fc_cb: array<f32>;
@group(0) @binding(6) var<storage, read_write> fc_wout: array<f32>;
@group(0) @binding(7) var<storage, read_write> fc_bout: array<f32>;
@group(0) @binding(8) var<uniform> fc: FoldConv;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// ReLU that keeps NaN, as the unary relu kernel (the builtin max need not).
fn relu_nan(v: f32) -> f32 {
  return select(max(v, 0.0), v, (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u);
}

// d relu: the output gradient where the fused ReLU's output is positive, as the reluGrad kernel.
fn relu_mask(g: f32, y: f32) -> f32 {
  return select(0.0, g, y > 0.0);
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

@compute @workgroup_size(WG)
fn stats_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  if (t >= sp.m * sp.ac * sp.sb) { return; }
  let s = slot(t, sp);
  let a0 = s.ac * sp.ach;
  let a1 = min(sp.a, a0 + sp.ach);
  var shift = 0.0;
  var per_row = 0u;
  if (s.sb < sp.b && a0 < a1) {
    shift = sp_x[(a0 * sp.m + s.m) * sp.b + s.sb];
    per_row = (sp.b - s.sb + sp.sb - 1u) / sp.sb;
  }
  var s1 = 0.0;
  var s2 = 0.0;
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
    mean = shift + s1 / n;
    m2 = max(s2 - s1 * s1 / n, 0.0);
  }
  let o = (s.m * s.np + s.p) * 3u;
  sp_part[o] = n;
  sp_part[o + 1u] = mean;
  sp_part[o + 2u] = m2;
}

// (count, mean, M2) of group m from its partials (Chan et al.'s pairwise update).
fn merge_stats(m: u32, np: u32) -> vec3<f32> {
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var p = 0u; p < np; p++) {
    let o = (m * np + p) * 3u;
    let nb = sf_part[o];
    if (nb == 0.0) { continue; }
    let nab = n + nb;
    let d = sf_part[o + 1u] - mean;
    mean += d * (nb / nab);
    m2 += sf_part[o + 2u] + d * d * (n * nb / nab);
    n = nab;
  }
  return vec3<f32>(n, mean, m2);
}

@compute @workgroup_size(WG)
fn stats_final(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let m = linear(gid, nwg);
  if (m >= sf.m) { return; }
  let r = merge_stats(m, sf.p);
  sf_stats[2u * m] = r.y;
  sf_stats[2u * m + 1u] = inverseSqrt(r.z / r.x + sf.eps);
}

@compute @workgroup_size(WG)
fn stats_running(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let m = linear(gid, nwg);
  if (m >= sfr.m) { return; }
  let r = merge_stats(m, sfr.p);
  sf_stats[2u * m] = r.y;
  sf_stats[2u * m + 1u] = inverseSqrt(r.z / r.x + sfr.eps);
  let k = sfr.momentum;
  sf_rmean[m] = (1.0 - k) * sf_rmean[m] + k * r.y;
  sf_rvar[m] = (1.0 - k) * sf_rvar[m] + k * (r.z / (r.x - 1.0));
  if (COUNT && m == 0u) { sf_count[0] = sf_count[0] + 1; }
}

@compute @workgroup_size(WG)
fn eval_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = linear(gid, nwg);
  if (c >= es.m) { return; }
  es_stats[2u * c] = es_rmean[c];
  es_stats[2u * c + 1u] = inverseSqrt(es_rvar[c] + es.eps);
}

// Statistics index (row / sdiv) % smod, skipping the integer divisions (slow on CPU adapters)
// where they are no-ops.
fn stats_index(row: u32, sdiv: u32, smod: u32) -> u32 {
  var r = row;
  if (sdiv != 1u) { r = r / sdiv; }
  if (r >= smod) { r = r % smod; }
  return r;
}

@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
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

@compute @workgroup_size(WG)
fn grad_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
  if (t >= gp.m * gp.ac * gp.sb) { return; }
  let s = slot(t, gp);
  let a0 = s.ac * gp.ach;
  let a1 = min(gp.a, a0 + gp.ach);
  var s1 = 0.0;
  var s2 = 0.0;
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
    let o = (s.m * s.np + s.p) * 2u;
    gp_part[o] = s1;
    gp_part[o + 1u] = s2;
    return;
  }
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
  let o = (s.m * s.np + s.p) * 2u;
  gp_part[o] = s1;
  gp_part[o + 1u] = s2;
}

@compute @workgroup_size(WG)
fn grad_fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear(gid, nwg);
  if (gf.cg == 1u && gf.nrep == 1u && gf.s == gf.c) {
    // Batch norm: group i and channel i are the same row, so its partials are summed once.
    if (i >= gf.s) { return; }
    var r1 = 0.0;
    var r2 = 0.0;
    for (var p = 0u; p < gf.p; p++) {
      r1 += gf_part[(i * gf.p + p) * 2u];
      r2 += gf_part[(i * gf.p + p) * 2u + 1u];
    }
    var wv = 1.0;
    if (HAS_W) { wv = gf_w[i % gf.wmod]; }
    gf_ks[2u * i] = wv * r1 * gf.inv_cnt;
    gf_ks[2u * i + 1u] = wv * r2 * gf.inv_cnt;
    gf_db[i] = r1;
    gf_dw[i] = r2;
    return;
  }
  if (i < gf.s) {
    var k1 = 0.0;
    var k2 = 0.0;
    for (var j = 0u; j < gf.cg; j++) {
      let r = i * gf.cg + j;
      var r1 = 0.0;
      var r2 = 0.0;
      for (var p = 0u; p < gf.p; p++) {
        r1 += gf_part[(r * gf.p + p) * 2u];
        r2 += gf_part[(r * gf.p + p) * 2u + 1u];
      }
      var wv = 1.0;
      if (HAS_W) { wv = gf_w[r % gf.wmod]; }
      k1 += wv * r1;
      k2 += wv * r2;
    }
    gf_ks[2u * i] = k1 * gf.inv_cnt;
    gf_ks[2u * i + 1u] = k2 * gf.inv_cnt;
  }
  if (i < gf.c) {
    var d1 = 0.0;
    var d2 = 0.0;
    for (var n = 0u; n < gf.nrep; n++) {
      let r = n * gf.c + i;
      for (var p = 0u; p < gf.p; p++) {
        d1 += gf_part[(r * gf.p + p) * 2u];
        d2 += gf_part[(r * gf.p + p) * 2u + 1u];
      }
    }
    gf_db[i] = d1;
    gf_dw[i] = d2;
  }
}

@compute @workgroup_size(WG)
fn apply_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
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

@compute @workgroup_size(WG)
fn fold_conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear(gid, nwg);
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
