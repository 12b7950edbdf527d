/**
 * A first training run on the engine: a two-layer perceptron fitted to y = sin(3 x0) + x1^2 with
 * plain SGD, everything (forward, backward, update) on WebGPU. Run with `npm start`.
 * Options: --steps N (default 300), --batch N (default 256), --hidden N (default 64), --lr X (default 0.2).
 */
import { parseArgs } from 'node:util';
import * as w from '../src/index.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    batch: { type: 'string', default: '256' },
    hidden: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.2' },
  },
});
const steps = Number(values.steps);
const batch = Number(values.batch);
const hidden = Number(values.hidden);
const lr = Number(values.lr);
for (const [k, v] of Object.entries({ steps, batch, hidden, lr })) {
  if (!(v > 0)) throw new Error(`--${k} must be a positive number`);
}

const rt = await w.init();
console.log(`adapter: ${rt.adapterName}`);

// Parameters (Kaiming-style scale), created outside every tidy scope so they persist.
let params = [
  w.randn([2, hidden], { seed: 1, std: Math.sqrt(2 / 2) }),
  w.zeros([hidden]),
  w.randn([hidden, 1], { seed: 2, std: Math.sqrt(1 / hidden) }),
  w.zeros([1]),
].map((p) => w.requireGrad(p));

// A fixed synthetic data set: x uniform in [-1, 1]^2.
const gen = new w.Generator(42);
const n = 4096;
const xs = gen.uniform(n * 2, -1, 1);
const ys = new Float32Array(n);
for (let i = 0; i < n; i++) ys[i] = Math.sin(3 * xs[2 * i]!) + xs[2 * i + 1]! ** 2;
const X = w.fromArray(xs, [n, 2]);
const Y = w.fromArray(ys, [n, 1]);

const t0 = performance.now();
for (let step = 1; step <= steps; step++) {
  const start = ((step - 1) * batch) % (n - batch);
  const loss = w.tidy(() => {
    const xb = w.narrow(X, 0, start, batch);
    const yb = w.narrow(Y, 0, start, batch);
    const [w1, b1, w2, b2] = params as [w.Tensor, w.Tensor, w.Tensor, w.Tensor];
    const h = w.relu(w.add(w.matmul(xb, w1), b1));
    const pred = w.add(w.matmul(h, w2), b2);
    const l = w.mean(w.square(w.sub(pred, yb)));
    w.backward(l);
    // SGD: p <- p - lr * grad, as new leaves that outlive this scope.
    const next = w.noGrad(() => params.map((p) => w.requireGrad(w.keep(w.sub(p, w.mul(p.grad!, lr))))));
    for (const p of params) p.dispose();
    params = next;
    return l;
  });
  if (step % 50 === 0 || step === 1 || step === steps) {
    const v = await loss.item();
    const rate = step / ((performance.now() - t0) / 1000);
    console.log(`step ${String(step).padStart(5)}  loss ${v.toFixed(5)}  ${rate.toFixed(1)} steps/s  live ${rt.memory().live}`);
  }
  loss.dispose();
}
const mem = rt.memory();
console.log(`done: ${rt.dispatchCount} dispatches, ${rt.submitCount} submits, peak GPU memory ${(mem.peakLiveBytes / 1e6).toFixed(2)} MB`);
w.shutdown();
