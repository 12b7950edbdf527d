/**
 * End-to-end training throughput: ResNet-18 at width 0.25 on 64x64 inputs, batch 8, one step =
 * forward (training mode), a loss over the stage outputs, backward, SGD with momentum. Reports
 * images per second and the peak of live GPU memory during the timed steps.
 */
import * as w from '../src/index.js';
import { timeRuns, type BenchRow } from './timing.js';

/** Result of {@link benchResnetStep}. */
export interface StepResult {
  ms: number;
  imagesPerSecond: number;
  peakBytes: number;
  dispatchesPerStep: number;
}

/** Times `steps` training steps of resnet18(width) on [batch, 3, size, size] (median of runs). */
export async function benchResnetStep(width = 0.25, batch = 8, size = 64): Promise<StepResult> {
  const rt = w.runtime();
  const model = w.resnet18({ widthMultiplier: width, generator: new w.Generator(1) });
  model.train();
  const opt = new w.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const x = w.randn([batch, 3, size, size], { seed: 2 });
  const step = () =>
    w.tidy(() => {
      opt.zeroGrad();
      const f = model.forward(x);
      const loss = w.add(w.mean(w.square(f.c4)), w.mean(w.square(f.c2)));
      w.backward(loss);
      opt.step();
    });
  step();
  await rt.sync();
  const d0 = rt.dispatchCount;
  step();
  const dispatchesPerStep = rt.dispatchCount - d0;
  await rt.sync();
  rt.pool.resetPeak();
  const ms = await timeRuns(step, { warmup: 1, runs: 5 });
  const peakBytes = rt.memory().peakLiveBytes;
  opt.dispose();
  model.dispose();
  x.dispose();
  return { ms, imagesPerSecond: (batch * 1000) / ms, peakBytes, dispatchesPerStep };
}

/** The bench row: ResNet-18 width 0.25, 64x64, batch 8, one SGD training step. */
export async function benchResnet(): Promise<BenchRow> {
  const r = await benchResnetStep(0.25, 8, 64);
  return {
    op: 'resnet18 train step',
    shape: 'w0.25 8x3x64x64',
    ms: r.ms,
    value: r.imagesPerSecond,
    unit: 'images/s',
    note: `peak ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB, ${r.dispatchesPerStep} dispatches/step`,
  };
}
