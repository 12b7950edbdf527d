/**
 * conv2d benchmarks: forward, input gradient, weight gradient and forward+backward, each beside
 * TF.js's WebGPU backend on the same adapter where it has the same computation.
 */
import * as w from '../src/index.js';
import { loadTfjs, timeTf } from './peers/tfjs.js';
import { timeRuns } from './timing.js';

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

/** A result row with the peer's time when it exists. */
export interface PeerRow {
  op: string;
  shape: string;
  ms: number;
  value: number;
  unit: 'GFLOP/s';
  peerMs: number | null;
  /** ours / peer in throughput (peer ms / our ms). */
  ratio: number | null;
}

function describe(s: ConvShape): string {
  return `${s.n}x${s.c}x${s.hw}x${s.hw} k${s.k} s${s.stride} p${s.pad} -> ${s.o}`;
}

/** Rows for forward, input gradient, weight gradient and forward+backward of one shape. */
export async function benchConv(s: ConvShape): Promise<PeerRow[]> {
  const oh = Math.floor((s.hw + 2 * s.pad - s.k) / s.stride) + 1;
  const flop = 2 * s.n * s.o * oh * oh * s.c * s.k * s.k;
  const x = w.requireGrad(w.randn([s.n, s.c, s.hw, s.hw], { seed: 1 }));
  const wt = w.requireGrad(w.randn([s.o, s.c, s.k, s.k], { seed: 2, std: 0.05 }));
  const gy = w.randn([s.n, s.o, oh, oh], { seed: 3 });
  const opts = { stride: s.stride, padding: s.pad };
  const fwd = await timeRuns(() => w.noGrad(() => w.tidy(() => void w.conv2d(x, wt, null, opts))), { runs: 5 });
  const y = w.conv2d(x, wt, null, opts);
  const dx = await timeRuns(() => w.tidy(() => void w.grad(y, [x], { gradOutputs: [gy], retainGraph: true })), { runs: 5 });
  const dwt = await timeRuns(() => w.tidy(() => void w.grad(y, [wt], { gradOutputs: [gy], retainGraph: true })), { runs: 5 });
  y.dispose();
  const both = await timeRuns(() => w.tidy(() => void w.grad(w.conv2d(x, wt, null, opts), [x, wt], { gradOutputs: [gy] })), { runs: 5 });
  for (const t of [x, wt, gy]) t.dispose();

  let peerFwd: number | null = null;
  let peerBoth: number | null = null;
  const tf = await loadTfjs();
  if (tf) {
    const tx = tf.randomNormal([s.n, s.hw, s.hw, s.c]);
    const tw = tf.randomNormal([s.k, s.k, s.c, s.o]);
    const tgy = tf.randomNormal([s.n, oh, oh, s.o]);
    const pad = [[0, 0], [s.pad, s.pad], [s.pad, s.pad], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
    peerFwd = await timeTf(tf, () => tf.conv2d(tx as import('@tensorflow/tfjs').Tensor4D, tw as import('@tensorflow/tfjs').Tensor4D, s.stride, pad));
    const g = tf.grads((a, b) => tf.conv2d(a as import('@tensorflow/tfjs').Tensor4D, b as import('@tensorflow/tfjs').Tensor4D, s.stride, pad));
    peerBoth = await timeTf(tf, () => g([tx, tw], tgy));
    tf.dispose([tx, tw, tgy]);
  }
  const shape = describe(s);
  const row = (op: string, ms: number, f: number, peer: number | null): PeerRow => ({
    op,
    shape,
    ms,
    value: f / ms / 1e6,
    unit: 'GFLOP/s',
    peerMs: peer,
    ratio: peer === null ? null : peer / ms,
  });
  return [
    row('conv2d fwd', fwd, flop, peerFwd),
    row('conv2d dx', dx, flop, null),
    row('conv2d dw', dwt, flop, null),
    row('conv2d fwd+bwd', both, 3 * flop, peerBoth),
  ];
}
