/**
 * The adapter's measured ceilings, the yardstick for the "of ceiling" column of the matmul and conv2d
 * rows: best-case arithmetic throughput (GFLOP/s) and best-case memory bandwidth (GB/s).
 *
 * Arithmetic: every invocation runs a loop whose body is `unroll` rounds of `acc_i = acc_i * m + a`
 * on `accs` independent vec4 accumulators held in registers (no loads inside the loop; m and a come
 * from a buffer so nothing folds away), and stores one vec4 at the end. One vec4 multiply-add counts
 * 8 flops (2 per lane). Several accumulator counts, unrolls and workgroup sizes are tried and the
 * best kept. Bandwidth: a vec4 copy of a 64 MiB buffer (read + written bytes), a few shapes (vec4s
 * per invocation, workgroup size), best kept.
 *
 * `npx tsx bench/ceiling.ts` prints every variant; `npm run bench -- ceiling` gives the two best rows.
 * The kernels are generated here (bench-only) and run on the engine's device through raw WebGPU.
 */
import { init, runtime, shutdown } from '../src/index.js';
import { median, type BenchRow } from './timing.js';

/** One FMA variant: accumulators, multiply-adds per accumulator per loop iteration, workgroup size. */
export interface FmaVariant {
  accs: number;
  unroll: number;
  wg: number;
  /** Use WGSL's fma() instead of `a * m + c`. */
  builtin?: boolean;
}

function fmaShader(v: FmaVariant): string {
  const decl = Array.from({ length: v.accs }, (_, i) => `  var a${i} = seed + vec4<f32>(${i}.0, ${i}.5, ${i}.25, ${i}.75) * 1e-3;`);
  const body: string[] = [];
  for (let u = 0; u < v.unroll; u++) for (let i = 0; i < v.accs; i++) body.push(v.builtin ? `    a${i} = fma(a${i}, m, c);` : `    a${i} = a${i} * m + c;`);
  const sum = Array.from({ length: v.accs }, (_, i) => `a${i}`).join(' + ');
  return `
struct P { iters: u32, pad0: u32, pad1: u32, pad2: u32 };
@group(0) @binding(0) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${v.wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * ${v.wg}u;
  let m = coef[0];
  let c = coef[1];
  let seed = vec4<f32>(f32(idx & 1023u)) * 1e-4;
${decl.join('\n')}
  for (var i = 0u; i < p.iters; i = i + 1u) {
${body.join('\n')}
  }
  out[idx] = ${sum};
}`;
}

function copyShader(per: number, wg: number): string {
  // Each invocation copies `per` vec4s spaced by the dispatch width (coalesced across lanes).
  const lines = Array.from({ length: per }, (_, j) => `  dst[base + ${j}u * stride] = src[base + ${j}u * stride];`);
  return `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * nwg.y * ${wg}u;
  let base = gid.x + gid.y * nwg.x * ${wg}u;
${lines.join('\n')}
}`;
}

function storage(dev: GPUDevice, bytes: number): GPUBuffer {
  return dev.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
}

/** Median ms of `runs` submits of one dispatch each, after a warm-up (compile). */
async function timeDispatch(pipeline: GPUComputePipeline, bind: GPUBindGroup, groups: number, runs: number): Promise<number> {
  const rt = runtime();
  const dev = rt.device;
  const once = async () => {
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    // At most 65535 workgroups per dimension: a 2-D grid of rows of up to 32768.
    const gx = Math.min(groups, 32768);
    pass.dispatchWorkgroups(gx, groups / gx);
    pass.end();
    dev.queue.submit([enc.finish()]);
    await rt.sync(); // the engine's non-spinning wait on the queue
  };
  await once();
  await once();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** GFLOP/s of one FMA variant: `invocations` invocations of `iters` loop iterations. */
export async function fmaGflops(v: FmaVariant, invocations = 1 << 16, iters = 512, runs = 5): Promise<{ ms: number; gflops: number }> {
  const dev = runtime().device;
  const module = dev.createShaderModule({ code: fmaShader(v) });
  const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const coef = storage(dev, 32);
  dev.queue.writeBuffer(coef, 0, new Float32Array([0.9999, 0.9998, 0.9997, 0.9996, 1e-4, 2e-4, 3e-4, 4e-4]));
  const out = storage(dev, invocations * 16);
  const uni = dev.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  dev.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0, 0, 0]));
  const bind = dev.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: coef } }, { binding: 1, resource: { buffer: out } }, { binding: 2, resource: { buffer: uni } }],
  });
  const ms = await timeDispatch(pipeline, bind, invocations / v.wg, runs);
  for (const b of [coef, out, uni]) b.destroy();
  const flop = invocations * iters * v.unroll * v.accs * 8;
  return { ms, gflops: flop / ms / 1e6 };
}

/** GB/s (read + written) of a vec4 copy of `bytes` bytes. */
export async function copyGbps(per: number, wg: number, bytes = 64 << 20, runs = 7): Promise<{ ms: number; gbps: number }> {
  const dev = runtime().device;
  const module = dev.createShaderModule({ code: copyShader(per, wg) });
  const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const src = storage(dev, bytes);
  const dst = storage(dev, bytes);
  const bind = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
  const ms = await timeDispatch(pipeline, bind, bytes / 16 / per / wg, runs);
  src.destroy();
  dst.destroy();
  return { ms, gbps: (2 * bytes) / ms / 1e6 };
}

/** The variants tried (see bench/README.md for the full sweep). */
export const FMA_VARIANTS: FmaVariant[] = [
  { accs: 1, unroll: 16, wg: 64 },
  { accs: 2, unroll: 8, wg: 64 },
  { accs: 4, unroll: 4, wg: 64 },
  { accs: 4, unroll: 4, wg: 64, builtin: true },
  { accs: 6, unroll: 4, wg: 64 },
  { accs: 8, unroll: 2, wg: 64 },
  { accs: 8, unroll: 4, wg: 64 },
  { accs: 8, unroll: 4, wg: 64, builtin: true },
  { accs: 8, unroll: 8, wg: 64 },
  { accs: 12, unroll: 2, wg: 64 },
  { accs: 16, unroll: 2, wg: 64 },
  { accs: 8, unroll: 4, wg: 8 },
  { accs: 8, unroll: 4, wg: 256 },
];
export const COPY_VARIANTS: [number, number][] = [
  [1, 64],
  [2, 64],
  [4, 64],
  [4, 8],
  [4, 256],
  [8, 64],
  [16, 64],
];

/** The best of each sweep: throughput, the variant's name and its median ms per dispatch. */
export interface Ceiling {
  gflops: number;
  gbps: number;
  fma: string;
  copy: string;
  fmaMs: number;
  copyMs: number;
}

let cached: Ceiling | null = null;

/** The best FMA and copy variants (measured once per process). */
export async function measureCeiling(log = false): Promise<Ceiling> {
  if (cached) return cached;
  let best = { gflops: 0, name: '', ms: 0 };
  for (const v of FMA_VARIANTS) {
    const r = await fmaGflops(v);
    const name = `${v.accs} vec4 acc x ${v.unroll}${v.builtin ? ' fma()' : ''}, wg ${v.wg}`;
    if (log) console.log(`fma ${name}: ${r.ms.toFixed(1)} ms, ${r.gflops.toFixed(1)} GFLOP/s`);
    if (r.gflops > best.gflops) best = { gflops: r.gflops, name, ms: r.ms };
  }
  let bestCopy = { gbps: 0, name: '', ms: 0 };
  for (const [per, wg] of COPY_VARIANTS) {
    const r = await copyGbps(per, wg);
    const name = `${per} vec4/inv, wg ${wg}`;
    if (log) console.log(`copy ${name}: ${r.ms.toFixed(1)} ms, ${r.gbps.toFixed(2)} GB/s`);
    if (r.gbps > bestCopy.gbps) bestCopy = { gbps: r.gbps, name, ms: r.ms };
  }
  cached = { gflops: best.gflops, gbps: bestCopy.gbps, fma: best.name, copy: bestCopy.name, fmaMs: best.ms, copyMs: bestCopy.ms };
  return cached;
}

/** Rows for the suite: the FMA ceiling and the copy ceiling. */
export async function benchCeiling(): Promise<BenchRow[]> {
  const c = await measureCeiling();
  return [
    { op: 'ceiling fma', shape: c.fma, ms: c.fmaMs, value: c.gflops, unit: 'GFLOP/s' },
    { op: 'ceiling copy', shape: `64 MiB, ${c.copy}`, ms: c.copyMs, value: c.gbps, unit: 'GB/s' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await init();
  const c = await measureCeiling(true);
  console.log(`best: ${c.gflops.toFixed(1)} GFLOP/s (${c.fma}), ${c.gbps.toFixed(2)} GB/s (${c.copy})`);
  shutdown();
}
