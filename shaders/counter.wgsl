// In-place counter: c[0] += 1 on an i32 buffer (BatchNorm2d's num_batches_tracked), so a training
// step never reads the count back. The contract: COUNTER in src/ops/kernels/counter.ts.
@group(0) @binding(0) var<storage, read_write> counter: array<i32>;

@compute @workgroup_size(1)
fn main() {
  counter[0] = counter[0] + 1;
}
