// Normalisation family: batch norm, group norm and layer norm share these kernels (l2-normalise,
// F.normalize, is shaders/l2-normalize.wgsl).
//
// The per-element passes (stats_partial, apply, grad_partial, apply_grad, fold_conv) are
// shaders/norm-common.wgsl over f32 elements here; shaders/norm-vec4.wgsl includes the same file over
// vec4<f32> for rows of 4k elements. The passes over per-group tables are in this file only.
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

// Element type of the per-element passes (norm-common.wgsl): one f32.
alias Elem = f32;
alias ElemBits = u32;
const LANES: u32 = 1u;
fn hsum(v: f32) -> f32 { return v; }
fn lane0(v: f32) -> f32 { return v; }

// #include "norm-common.wgsl"

override COUNT: bool = false;

struct Final { m: u32, p: u32, eps: f32, momentum: f32 }

struct Fold { s: u32, cg: u32, c: u32, nrep: u32, p: u32, inv_cnt: f32, wmod: u32, pad0: u32 }

@compute @workgroup_size(WG)
fn stats_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { stats_partial_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { apply_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn grad_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { grad_partial_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn apply_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { apply_grad_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn fold_conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { fold_conv_at(linear(gid, nwg)); }

// stats_final / stats_running
@group(0) @binding(0) var<storage, read> sf_part: array<f32>;
@group(0) @binding(1) var<storage, read_write> sf_stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> sf_rmean: array<f32>;
@group(0) @binding(3) var<storage, read_write> sf_rvar: array<f32>;
@group(0) @binding(4) var<storage, read_write> sf_count: array<i32>;
@group(0) @binding(2) var<uniform> sf: Final;
@group(0) @binding(5) var<uniform> sfr: Final;

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

// eval_stats
@group(0) @binding(0) var<storage, read> es_rmean: array<f32>;
@group(0) @binding(1) var<storage, read> es_rvar: array<f32>;
@group(0) @binding(2) var<storage, read_write> es_stats: array<f32>;
@group(0) @binding(3) var<uniform> es: Final;

@compute @workgroup_size(WG)
fn eval_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = linear(gid, nwg);
  if (c >= es.m) { return; }
  es_stats[2u * c] = es_rmean[c];
  es_stats[2u * c + 1u] = inverseSqrt(es_rvar[c] + es.eps);
}

// grad_fold
@group(0) @binding(0) var<storage, read> gf_part: array<f32>;
@group(0) @binding(1) var<storage, read> gf_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> gf_ks: array<f32>;
@group(0) @binding(3) var<storage, read_write> gf_db: array<f32>;
@group(0) @binding(4) var<storage, read_write> gf_dw: array<f32>;
@group(0) @binding(5) var<uniform> gf: Fold;

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
