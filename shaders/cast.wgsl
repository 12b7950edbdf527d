// dtype conversion between f32 and i32 on 32-bit words. MODE_F32_TO_I32 truncates toward zero, as
// PyTorch's .to(torch.int32); MODE_I32_TO_F32 converts back.
override MODE: u32 = 0u;
// The modes, as src/ops/kernels/cast.ts's descriptor declares them (checked when compiled).
const MODE_F32_TO_I32: u32 = 0u;
const MODE_I32_TO_F32: u32 = 1u;
override WG: u32 = 64u;

struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  if (MODE == MODE_F32_TO_I32) {
    y[i] = bitcast<u32>(i32(bitcast<f32>(x[i])));
  } else {
    y[i] = bitcast<u32>(f32(bitcast<i32>(x[i])));
  }
}
