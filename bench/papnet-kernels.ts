/**
 * PAP-Net's custom kernels (src/mtl/models/pap-kernels.ts: pixelAffinity, diffuseStep, WGSL
 * forward and backward through defineKernel/customOp) against the same maths composed of built-in
 * ops (matmul, softmax, transpose), timed round-robin by compareOps, forward alone and forward plus
 * backward; and each kernel's largest error against the float64 reference (test/reference/pap.ts).
 * Run alone: `npx tsx bench/papnet-kernels.ts`.
 */
import { fileURLToPath } from 'node:url';
import * as w from '../src/index.js';
import { affinityScale, diffuseStep, diffuseStepComposed, pixelAffinity, pixelAffinityComposed } from '../src/mtl/models/pap-kernels.js';
import { refDiffuseStep, refPixelAffinity } from '../test/reference/pap.js';
import { hostInfo } from './host.js';
import type { BenchRow } from './timing.js';

/** Largest |got - want| / (1 + |want|). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return m;
}

/** The gradient of sum(f(x) * r) with respect to x (the forward and the whole backward of f). */
function withBackward(f: (x: w.Tensor) => w.Tensor, x: w.Tensor, r: w.Tensor): () => w.Tensor {
  return () =>
    w.tidy(() => {
      const xg = w.requireGrad(w.detach(x));
      const [g] = w.grad(w.sum(w.mul(f(xg), r)), [xg]);
      return g!;
    });
}

/** Rows for features [b, c, p] (p pixels of the affinity grid): each kernel, forward and forward + backward. */
export async function benchPapKernels(b = 2, c = 64, p = 256): Promise<BenchRow[]> {
  const x = w.randn([b, c, p], { seed: 1 });
  const a = w.noGrad(() => pixelAffinity(x));
  const ra = w.randn([b, p, p], { seed: 2 });
  const rx = w.randn([b, c, p], { seed: 3 });
  const [hx, ha] = [await x.data(), await a.data()];
  const affErr = relErr(ha, refPixelAffinity(hx, b, c, p, affinityScale(c)));
  const y = w.noGrad(() => diffuseStep(a, x, x, 0.5));
  const difErr = relErr(await y.data(), refDiffuseStep(ha, hx, hx, b, c, p, 0.5));
  y.dispose();
  // Multiply-adds of one product over the pixel and channel axes (both kernels' main cost), x 2 flops;
  // the backward does two such products.
  const product = 2 * b * c * p * p;
  const cases: [string, () => w.Tensor, () => w.Tensor, number, number][] = [
    ['pixelAffinity fwd', () => w.noGrad(() => pixelAffinity(x)), () => w.noGrad(() => pixelAffinityComposed(x)), affErr, product],
    ['pixelAffinity fwd+bwd', withBackward((t) => pixelAffinity(t), x, ra), withBackward((t) => pixelAffinityComposed(t), x, ra), affErr, 2 * product],
    ['diffuseStep fwd', () => w.noGrad(() => diffuseStep(a, x, x, 0.5)), () => w.noGrad(() => diffuseStepComposed(a, x, x, 0.5)), difErr, product],
    ['diffuseStep fwd+bwd', withBackward((t) => diffuseStep(a, t, t, 0.5), x, rx), withBackward((t) => diffuseStepComposed(a, t, t, 0.5), x, rx), difErr, 2 * product],
  ];
  const rows: BenchRow[] = [];
  for (const [op, mine, composed, err, flops] of cases) {
    const cmp = await w.compareOps(mine, composed, { runs: 5, warmup: 2 });
    rows.push({
      op: `custom ${op}`,
      shape: `${b}x${c}x${p}`,
      ms: cmp.aMs,
      value: flops / cmp.aMs / 1e6,
      unit: 'GFLOP/s',
      peer: 'the same maths composed of built-in ops',
      peerMs: cmp.bMs,
      ratio: cmp.speedup,
      note: `max |diff| vs composed ${cmp.maxAbsDiff.toExponential(1)}, max rel err vs float64 ${err.toExponential(1)}`,
    });
  }
  for (const t of [x, a, ra, rx]) t.dispose();
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await w.init();
  const h = hostInfo();
  process.stdout.write(`host: ${h.cpu}, ${h.cores} cores, ${h.adapter}\n`);
  for (const [b, c, p] of [[2, 32, 64], [2, 64, 256]] as const) {
    for (const r of await benchPapKernels(b, c, p)) {
      process.stdout.write(`${r.op} ${r.shape}: ${r.ms.toFixed(2)} ms; composed ${r.peerMs!.toFixed(2)} ms (${r.ratio!.toFixed(2)}x); ${r.note}\n`);
    }
  }
  w.shutdown();
}
