// l2-normalise along the middle dim of an (outer, L, inner) view, one invocation per row
// (src/ops/kernels/l2-normalize.ts, which holds the descriptors of both entry points):
// l2n_forward: y = x / max(|x|, eps), norm[row] = |x|.
// l2n_backward: dx = (gy - y * sum(gy * y)) / |x| where |x| >= eps, else gy / eps (the clamp holds
// the denominator constant, as PyTorch's clamp_min gradient).
override WG: u32 = 64u;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

struct L2 { outer: u32, l: u32, inner: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> lf_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> lf_y: array<f32>;
@group(0) @binding(2) var<storage, read_write> lf_norm: array<f32>;
@group(0) @binding(3) var<uniform> lf: L2;

@group(0) @binding(0) var<storage, read> lb_gy: array<f32>;
@group(0) @binding(1) var<storage, read> lb_y: array<f32>;
@group(0) @binding(2) var<storage, read> lb_norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> lb_dx: array<f32>;
@group(0) @binding(4) var<uniform> lb: L2;

@compute @workgroup_size(WG)
fn l2n_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = linear(gid, nwg);
  if (r >= lf.outer * lf.inner) { return; }
  let i = r % lf.inner;
  let base = (r / lf.inner) * lf.l * lf.inner + i;
  var ss = 0.0;
  for (var k = 0u; k < lf.l; k++) {
    let v = lf_x[base + k * lf.inner];
    ss += v * v;
  }
  let n = sqrt(ss);
  let inv = 1.0 / max(n, lf.eps);
  for (var k = 0u; k < lf.l; k++) {
    let j = base + k * lf.inner;
    lf_y[j] = lf_x[j] * inv;
  }
  lf_norm[r] = n;
}

@compute @workgroup_size(WG)
fn l2n_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = linear(gid, nwg);
  if (r >= lb.outer * lb.inner) { return; }
  let i = r % lb.inner;
  let base = (r / lb.inner) * lb.l * lb.inner + i;
  let n = lb_norm[r];
  let through = n >= lb.eps;
  var dot = 0.0;
  if (through) {
    for (var k = 0u; k < lb.l; k++) {
      let j = base + k * lb.inner;
      dot += lb_gy[j] * lb_y[j];
    }
  }
  let inv = 1.0 / max(n, lb.eps);
  for (var k = 0u; k < lb.l; k++) {
    let j = base + k * lb.inner;
    lb_dx[j] = (lb_gy[j] - lb_y[j] * dot) * inv;
  }
}
