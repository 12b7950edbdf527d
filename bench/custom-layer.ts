/**
 * The custom-layer example's diffusion kernel (examples/custom-layer: localMix, a 5x5-window
 * weighted gather written in WGSL through defineKernel/customOp) against the same computation
 * composed of built-in ops (pad, 25 slices, mul, add), timed round-robin by compareOps.
 */
import * as w from '../src/index.js';
import { localMix, localMixComposed } from '../examples/custom-layer/local-affinity.js';
import type { BenchRow } from './timing.js';

/** One row: the custom kernel's time, with the composed version as its peer. */
export async function benchCustomLayer(): Promise<BenchRow> {
  const [n, c, h, wd, r] = [8, 16, 32, 32, 2];
  const x = w.randn([n, c, h, wd], { seed: 1 });
  const a = w.softmax(w.randn([n, (2 * r + 1) ** 2, h, wd], { seed: 2 }), 1);
  const cmp = await w.compareOps(() => localMix(a, x, r), () => localMixComposed(a, x, r));
  x.dispose();
  a.dispose();
  // Bytes the kernel must move at least: the weights and x once, y once.
  const bytes = 4 * (n * 25 * h * wd + 2 * n * c * h * wd);
  return {
    op: 'custom localMix',
    shape: `${n}x${c}x${h}x${wd}, 5x5 window`,
    ms: cmp.aMs,
    value: bytes / cmp.aMs / 1e6,
    unit: 'GB/s',
    peer: 'the same op composed of built-in ops',
    peerMs: cmp.bMs,
    ratio: cmp.speedup,
    note: `max |diff| ${cmp.maxAbsDiff.toExponential(1)}`,
  };
}
