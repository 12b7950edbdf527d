// Strided copy of 32-bit words: the one kernel behind permute, expand, slice (with steps), pad and
// concat. For every index o of the iteration shape:
//   src_d = start_d + o_d * step_d; in bounds when 0 <= src_d < bound_d for all d
//   dst[dstOffset + sum o_d * dstStride_d] = in bounds ? src[sum src_d * srcStride_d - srcBase] : fill
// srcBase is where the bound source range starts (nonzero when a copy too large for one binding is
// split: src/ops/kernels/copy.ts, whose descriptor COPY is this kernel's contract, checked when compiled).
override WG: u32 = 64u;

struct Params {
  n: u32, rank: u32, dst_offset: u32, fill: u32,
  shape: array<vec4<u32>, 2>,
  start: array<vec4<i32>, 2>,
  step: array<vec4<i32>, 2>,
  bound: array<vec4<u32>, 2>,
  src_stride: array<vec4<u32>, 2>,
  dst_stride: array<vec4<u32>, 2>,
  src_base: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn du(arr: array<vec4<u32>, 2>, d: u32) -> u32 { return arr[d / 4u][d % 4u]; }
fn di(arr: array<vec4<i32>, 2>, d: u32) -> i32 { return arr[d / 4u][d % 4u]; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  var rem = i;
  var so = 0u - p.src_base;
  var doff = p.dst_offset;
  var inside = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    let s = du(p.shape, ud);
    let o = rem % s;
    rem = rem / s;
    let sd = di(p.start, ud) + i32(o) * di(p.step, ud);
    inside = inside && sd >= 0 && u32(sd) < du(p.bound, ud);
    so += u32(max(sd, 0)) * du(p.src_stride, ud);
    doff += o * du(p.dst_stride, ud);
  }
  dst[doff] = select(p.fill, src[so], inside);
}
