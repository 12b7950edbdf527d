// vec4 variants of norm.wgsl's per-element passes, for views whose rows (B for the reductions,
// L for the row passes) are a multiple of 4 long: the passes of norm-common.wgsl, the same text as
// the scalar kernels, over vec4<f32> elements, with the same uniforms and every size that counts
// columns (B, sb, L, j, fold_conv's k) counted in vec4s. On CPU adapters a vec4 load costs about
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

// Element type of the per-element passes (norm-common.wgsl): four f32 lanes.
alias Elem = vec4<f32>;
alias ElemBits = vec4<u32>;
const LANES: u32 = 4u;
fn hsum(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn lane0(v: vec4<f32>) -> f32 { return v.x; }

// #include "norm-common.wgsl"

@compute @workgroup_size(WG)
fn stats_partial4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { stats_partial_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn apply4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { apply_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn grad_partial4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { grad_partial_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn apply_grad4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { apply_grad_at(linear(gid, nwg)); }

@compute @workgroup_size(WG)
fn fold_conv4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) { fold_conv_at(linear(gid, nwg)); }
