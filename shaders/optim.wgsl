// Fused optimiser updates and global gradient-norm clipping (src/optim/).
//
// Each update entry point reads a parameter's gradient once and rewrites the parameter and its state
// buffers in place, four elements per invocation, in one dispatch per parameter. The arithmetic
// follows PyTorch 1.13's single-tensor implementations operation by operation (same order, same
// float32 coefficients), so results differ from torch's only by fused multiply-adds. Hyper-parameters
// arrive in the uniform block; the host folds the step count into the bias corrections, so no entry
// point needs a readback. `first` marks a parameter's first update: its state buffers are then
// uninitialised and are written without being read (torch's "buffer is None" / zero state rule).
//
// Buffers come from a pool whose sizes are multiples of 16 bytes, so the last vec4 may run into
// padding; updates write garbage there harmlessly, reductions mask it out by element count.
//
// Entry points with different binding lists share binding numbers (the uniform block is always the
// last binding); each entry point only touches its own variables, which WGSL allows.
override WG: u32 = 64u;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// ---------------------------------------------------------------- SGD
// sign: -1 when maximising. decay: 1 when weight_decay != 0 (torch skips the add otherwise, which
// matters for non-finite parameters). keep: 1 - dampening.
struct Sgd {
  n4: u32, first: u32, nesterov: u32, decay: u32,
  lr: f32, wd: f32, momentum: f32, keep: f32,
  sign: f32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> sgd_w: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> sgd_g: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> sgd_p: Sgd;

// d_p = (maximize ? -g : g) + weight_decay * w
fn sgd_dir(g: vec4<f32>, w: vec4<f32>, u: Sgd) -> vec4<f32> {
  var d = g * u.sign;
  if (u.decay != 0u) { d = d + u.wd * w; }
  return d;
}

// Plain SGD (momentum 0): w -= lr * d_p.
@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= sgd_p.n4) { return; }
  let w = sgd_w[i];
  sgd_w[i] = w - sgd_p.lr * sgd_dir(sgd_g[i], w, sgd_p);
}

@group(0) @binding(0) var<storage, read_write> sgdm_w: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> sgdm_g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sgdm_buf: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> sgdm_p: Sgd;

// SGD with momentum: buf = first ? d_p : momentum * buf + (1 - dampening) * d_p;
// w -= lr * (nesterov ? d_p + momentum * buf : buf).
@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= sgdm_p.n4) { return; }
  let w = sgdm_w[i];
  let d = sgd_dir(sgdm_g[i], w, sgdm_p);
  var b = d;
  if (sgdm_p.first == 0u) { b = sgdm_buf[i] * sgdm_p.momentum + sgdm_p.keep * d; }
  sgdm_buf[i] = b;
  var step = b;
  if (sgdm_p.nesterov != 0u) { step = d + sgdm_p.momentum * b; }
  sgdm_w[i] = w - sgdm_p.lr * step;
}

// ---------------------------------------------------------------- Adam / AdamW
// l2: 1 for Adam with weight_decay != 0 (gradient += wd * w); shrink: 1 - lr * wd for AdamW
// (decoupled decay, applied to w first), 1 otherwise. step_size = lr / (1 - beta1^t) and
// bc2_sqrt = sqrt(1 - beta2^t) are computed on the host (in float64) from the parameter's step t.
struct Adam {
  n4: u32, first: u32, l2: u32, pad0: u32,
  sign: f32, wd: f32, shrink: f32, eps: f32,
  beta1: f32, c1: f32, beta2: f32, c2: f32,
  step_size: f32, bc2_sqrt: f32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> adam_w: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> adam_g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> adam_m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> adam_v: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> adam_p: Adam;

struct Moments { w: vec4<f32>, m: vec4<f32>, v: vec4<f32> }

// m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g * g (zero state on the first step),
// with g and w after weight decay.
fn adam_moments(g0: vec4<f32>, w0: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>, u: Adam) -> Moments {
  var g = g0 * u.sign;
  if (u.l2 != 0u) { g = g + u.wd * w0; }
  let w = w0 * u.shrink;
  var m = u.c1 * g;
  var v = u.c2 * g * g;
  if (u.first == 0u) {
    m = m0 * u.beta1 + m;
    v = v0 * u.beta2 + v;
  }
  return Moments(w, m, v);
}

// w -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= adam_p.n4) { return; }
  var m0 = vec4<f32>(0.0);
  var v0 = vec4<f32>(0.0);
  if (adam_p.first == 0u) {
    m0 = adam_m[i];
    v0 = adam_v[i];
  }
  let s = adam_moments(adam_g[i], adam_w[i], m0, v0, adam_p);
  adam_m[i] = s.m;
  adam_v[i] = s.v;
  let denom = sqrt(s.v) / adam_p.bc2_sqrt + adam_p.eps;
  adam_w[i] = s.w - adam_p.step_size * (s.m / denom);
}

@group(0) @binding(0) var<storage, read_write> ams_w: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ams_g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ams_m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> ams_v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> ams_vmax: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> ams_p: Adam;

// AMSGrad: vmax = max(vmax, v) (v itself on the first step); w -= step_size * m / (sqrt(vmax) / bc2_sqrt + eps)
@compute @workgroup_size(WG)
fn adam_amsgrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= ams_p.n4) { return; }
  var m0 = vec4<f32>(0.0);
  var v0 = vec4<f32>(0.0);
  if (ams_p.first == 0u) {
    m0 = ams_m[i];
    v0 = ams_v[i];
  }
  let s = adam_moments(ams_g[i], ams_w[i], m0, v0, ams_p);
  var vmax = s.v;
  if (ams_p.first == 0u) { vmax = max(ams_vmax[i], s.v); }
  ams_m[i] = s.m;
  ams_v[i] = s.v;
  ams_vmax[i] = vmax;
  let denom = sqrt(vmax) / ams_p.bc2_sqrt + ams_p.eps;
  ams_w[i] = s.w - ams_p.step_size * (s.m / denom);
}

// ---------------------------------------------------------------- gradient-norm clipping
// kind: NORM_TWO the 2-norm (sums of squares), NORM_INF the inf-norm (maxima of |g|), NORM_P a
// general p-norm (sums of |g|^p). NaN is detected by bit pattern (compilers may assume no NaNs) and made to propagate, so
// a NaN gradient gives a NaN norm as in torch.

// The norm kinds, as src/optim/kernels.ts's descriptors declare them (checked when compiled).
const NORM_TWO: u32 = 0u;
const NORM_INF: u32 = 1u;
const NORM_P: u32 = 2u;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Combines two partial results of the same kind.
fn combine(a: f32, b: f32, kind: u32) -> f32 {
  if (kind == NORM_INF) {
    if (is_nan(a) || is_nan(b)) { return a + b; }
    return max(a, b);
  }
  return a + b;
}

// Partials: invocation t reduces vec4s [t*chunk4, (t+1)*chunk4) of one gradient into part[offset + t].
struct Partial { n: u32, n4: u32, chunk4: u32, offset: u32, kind: u32, p: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read> cp_g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> cp_part: array<f32>;
@group(0) @binding(2) var<uniform> cp_p: Partial;

@compute @workgroup_size(WG)
fn clip_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat(gid, nwg);
  let k0 = t * cp_p.chunk4;
  if (k0 >= cp_p.n4) { return; }
  let k1 = min(cp_p.n4, k0 + cp_p.chunk4);
  var acc = 0.0;
  for (var k = k0; k < k1; k++) {
    // Lanes past the element count are padding (possibly NaN): replace them by 0.
    let lane = vec4<u32>(4u * k) + vec4<u32>(0u, 1u, 2u, 3u);
    let a = select(vec4<f32>(0.0), abs(cp_g[k]), lane < vec4<u32>(cp_p.n));
    if (cp_p.kind == NORM_TWO) {
      acc += dot(a, a);
    } else if (cp_p.kind == NORM_INF) {
      acc = combine(combine(acc, a.x, NORM_INF), combine(a.y, combine(a.z, a.w, NORM_INF), NORM_INF), NORM_INF);
    } else {
      // pow(0, p) is not trusted on every driver; 0^p = 0 for the p > 0 allowed here.
      let e = vec4<f32>(cp_p.p);
      let q = select(pow(a, e), vec4<f32>(0.0), a == vec4<f32>(0.0));
      acc += q.x + q.y + q.z + q.w;
    }
  }
  cp_part[cp_p.offset + t] = acc;
}

// Total: one workgroup folds all partials into the norm (sqrt, max or ^(1/p)) at total[0].
struct Total { count: u32, kind: u32, inv_p: f32, pad0: u32 }

@group(0) @binding(0) var<storage, read> ct_part: array<f32>;
@group(0) @binding(1) var<storage, read_write> ct_total: array<f32>;
@group(0) @binding(2) var<uniform> ct_p: Total;

const TOTAL_WG: u32 = 64u;
var<workgroup> ct_acc: array<f32, TOTAL_WG>;

@compute @workgroup_size(TOTAL_WG)
fn clip_total(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < ct_p.count; k += TOTAL_WG) { acc = combine(acc, ct_part[k], ct_p.kind); }
  ct_acc[lid] = acc;
  workgroupBarrier();
  for (var s = TOTAL_WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { ct_acc[lid] = combine(ct_acc[lid], ct_acc[lid + s], ct_p.kind); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = ct_acc[0];
    var norm = r;
    if (ct_p.kind == NORM_TWO) {
      norm = sqrt(r);
    } else if (ct_p.kind == NORM_P && r != 0.0) {
      norm = pow(r, ct_p.inv_p);
    }
    ct_total[0] = norm;
  }
}

// Scale: g *= min(max_norm / (norm + 1e-6), 1), with the norm read from the buffer clip_total wrote.
struct Scale { n4: u32, max_norm: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read_write> cs_g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> cs_total: array<f32>;
@group(0) @binding(2) var<uniform> cs_p: Scale;

@compute @workgroup_size(WG)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= cs_p.n4) { return; }
  // A NaN norm must give NaN gradients, as torch.clamp does; the builtin min may drop a NaN.
  let c = cs_p.max_norm / (cs_total[0] + 1e-6);
  let coef = select(min(c, 1.0), c, is_nan(c));
  cs_g[i] = cs_g[i] * coef;
}
