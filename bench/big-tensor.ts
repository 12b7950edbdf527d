/**
 * A training step whose activations exceed one storage binding: full-width ResNet-18 plus a conv
 * head on 8x3x480x640 inputs (the stem's output, 8x64x240x320 f32, is 157 MB; lavapipe binds at most
 * 128 MiB). Forward, an upsampled cross-entropy loss, backward and an Adam update, run `steps` times
 * (default 1; the first includes shader compiles). Prints each step's time and the peak of live GPU
 * memory. Not part of `npm run bench` (it takes about a minute on a 2-core CPU adapter).
 *
 *   npx tsx bench/big-tensor.ts [steps] [--max-binding BYTES]
 */
import * as w from '../src/index.js';

const args = process.argv.slice(2);
const at = args.indexOf('--max-binding');
const maxBindingBytes = at >= 0 ? Number(args[at + 1]) : undefined;
const steps = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--max-binding') ?? 1);

const rt = await w.init({ maxBindingBytes });
const [n, h, wd, classes] = [8, 480, 640, 21];
const gen = new w.Generator(1);
const backbone = w.resnet18({ generator: gen });
const head = new w.ConvHead(backbone.channels.c4, classes, { generator: gen });
backbone.train();
head.train();
const opt = new w.Adam([...backbone.parameters(), ...head.parameters()], { lr: 1e-3 });
const x = w.randn([n, 3, h, wd], { seed: 2 });
const labels = w.fromArray(
  Int32Array.from(gen.uniform(n * h * wd, 0, classes), (v) => Math.floor(v)),
  [n, h, wd],
  { dtype: 'i32' },
);
console.log(`${rt.adapterName}: binding limit ${rt.maxBindingBytes} bytes, maxBufferSize ${rt.limits.maxBufferSize}`);
for (let s = 0; s < steps; s++) {
  rt.pool.resetPeak();
  const t0 = performance.now();
  const loss = w.tidy(() => {
    opt.zeroGrad();
    const logits = head.forward(backbone.forward(x));
    const up = w.interpolate(logits, { size: [h, wd], mode: 'bilinear' });
    const l = w.crossEntropy(up, labels);
    w.backward(l);
    opt.step();
    return l;
  });
  const value = await loss.item();
  loss.dispose();
  const ms = performance.now() - t0;
  const peak = rt.memory().peakLiveBytes;
  console.log(`step ${s + 1}: ${(ms / 1000).toFixed(1)} s, loss ${value.toFixed(4)}, peak live GPU memory ${(peak / 2 ** 30).toFixed(2)} GiB`);
}
opt.dispose();
backbone.dispose();
head.dispose();
x.dispose();
labels.dispose();
w.shutdown();
