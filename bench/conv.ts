/**
 * conv2d benchmarks: forward, input gradient, weight gradient and forward+backward, each timed
 * round-robin with TF.js's WebGPU backend on the same adapter doing the same computation (its
 * Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter kernels and tf.grads), so that load from other
 * jobs hits both alike.
 */
import type * as TFNS from '@tensorflow/tfjs';
import * as w from '../src/index.js';
import { loadTfjs, tfRun } from './peers/tfjs.js';
import { timeInterleaved, type BenchRow } from './timing.js';

/** One conv2d shape: batch, channels in/out, spatial size, kernel, stride, padding. */
export interface ConvShape {
  n: number;
  c: number;
  o: number;
  hw: number;
  k: number;
  stride: number;
  pad: number;
}

/** The rows' shape column: `8x64x64x64 k3 s1 p1 -> 64` (NCHW input, kernel, stride, padding, out channels). */
export function describeConv(s: ConvShape): string {
  return `${s.n}x${s.c}x${s.hw}x${s.hw} k${s.k} s${s.stride} p${s.pad} -> ${s.o}`;
}

/** TF.js closures for the four computations (NHWC), each resolving once its results exist. */
function tfjsPasses(tf: typeof TFNS, s: ConvShape, oh: number): { passes: Record<string, () => Promise<void>>; dispose: () => void } {
  const tx = tf.randomNormal([s.n, s.hw, s.hw, s.c]) as TFNS.Tensor4D;
  const tw = tf.randomNormal([s.k, s.k, s.c, s.o]) as TFNS.Tensor4D;
  const tgy = tf.randomNormal([s.n, oh, oh, s.o]) as TFNS.Tensor4D;
  const pad: [[0, 0], [number, number], [number, number], [0, 0]] = [[0, 0], [s.pad, s.pad], [s.pad, s.pad], [0, 0]];
  const g = tf.grads((a, b) => tf.conv2d(a as TFNS.Tensor4D, b as TFNS.Tensor4D, s.stride, pad));
  const run = (fn: () => TFNS.Tensor | TFNS.Tensor[]) => tfRun(tf, fn);
  const passes = {
    fwd: run(() => tf.conv2d(tx, tw, s.stride, pad)),
    dx: run(() => tf.conv2dTranspose(tgy, tw, [s.n, s.hw, s.hw, s.c], s.stride, pad)),
    dw: run(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tgy }, { strides: s.stride, pad, dataFormat: 'NHWC', filterShape: [s.k, s.k, s.c, s.o] }) as TFNS.Tensor),
    both: run(() => g([tx, tw], tgy)),
  };
  return { passes, dispose: () => tf.dispose([tx, tw, tgy]) };
}

/** Rows for forward, input gradient, weight gradient and forward+backward of one shape. */
export async function benchConv(s: ConvShape, runs = 7): Promise<BenchRow[]> {
  const oh = Math.floor((s.hw + 2 * s.pad - s.k) / s.stride) + 1;
  const flop = 2 * s.n * s.o * oh * oh * s.c * s.k * s.k;
  const rt = w.runtime();
  const x = w.requireGrad(w.randn([s.n, s.c, s.hw, s.hw], { seed: 1 }));
  const wt = w.requireGrad(w.randn([s.o, s.c, s.k, s.k], { seed: 2, std: 0.05 }));
  const gy = w.randn([s.n, s.o, oh, oh], { seed: 3 });
  const opts = { stride: s.stride, padding: s.pad };
  // dx and dw alone: backward through a recorded graph that is kept (retainGraph).
  const y = w.conv2d(x, wt, null, opts);
  const ours = (fn: () => void) => async () => {
    fn();
    await rt.sync();
  };
  const fns: Record<string, () => Promise<void>> = {
    fwd: ours(() => w.noGrad(() => w.tidy(() => void w.conv2d(x, wt, null, opts)))),
    dx: ours(() => w.tidy(() => void w.grad(y, [x], { gradOutputs: [gy], retainGraph: true }))),
    dw: ours(() => w.tidy(() => void w.grad(y, [wt], { gradOutputs: [gy], retainGraph: true }))),
    both: ours(() => w.tidy(() => void w.grad(w.conv2d(x, wt, null, opts), [x, wt], { gradOutputs: [gy] }))),
  };
  const tf = await loadTfjs();
  const peer = tf ? tfjsPasses(tf, s, oh) : null;
  if (peer) for (const [k, fn] of Object.entries(peer.passes)) fns[`tf ${k}`] = fn;
  const ms = await timeInterleaved(fns, { runs });
  y.dispose();
  for (const t of [x, wt, gy]) t.dispose();
  peer?.dispose();

  const shape = describeConv(s);
  const row = (op: string, key: string, f: number): BenchRow => {
    const peerMs = ms[`tf ${key}`] ?? null;
    return { op, shape, ms: ms[key]!, value: f / ms[key]! / 1e6, unit: 'GFLOP/s', peer: tf ? 'TF.js webgpu' : undefined, peerMs, ratio: peerMs === null ? null : peerMs / ms[key]! };
  };
  return [row('conv2d fwd', 'fwd', flop), row('conv2d dx', 'dx', flop), row('conv2d dw', 'dw', flop), row('conv2d fwd+bwd', 'both', 3 * flop)];
}
