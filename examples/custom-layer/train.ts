/**
 * The custom layer end to end: checks its WGSL kernels against a composed version, times them with
 * compareOps, and trains a two-task model (segmentation and depth on the synthetic scenes) whose
 * task features pass through CrossTaskAffinity before the heads.
 *
 *   npx tsx examples/custom-layer/train.ts [--epochs 3] [--size 48] [--samples 192]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as w from '../../src/index.js';
import { CrossTaskAffinity, localMix, localMixComposed } from './local-affinity.js';

/** A shared ResNet-18 encoder, one projection per task, cross-task affinity, one 1x1 head per task. */
export class AffinityModel extends w.MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: w.ResNet;
  readonly affinity: CrossTaskAffinity;
  private readonly proj: w.Conv2d[];
  private readonly heads: w.Conv2d[];

  constructor(tasks: readonly w.Task[], width = 0.125, features = 16, seed = 0) {
    super();
    const g = new w.Generator(seed);
    this.taskNames = tasks.map((t) => t.name);
    this.backbone = this.child('backbone', w.resnet18({ widthMultiplier: width, outputStride: 8, generator: g }));
    const c = this.backbone.channels.c4;
    this.proj = tasks.map((t) => this.child(`proj_${t.name}`, new w.Conv2d(c, features, 3, { padding: 1, generator: g })));
    this.affinity = this.child('affinity', new CrossTaskAffinity(tasks.length, features, 2, 2));
    this.heads = tasks.map((t) => this.child(`head_${t.name}`, new w.Conv2d(features, t.channels, 1, { generator: g })));
  }

  forward(x: w.Tensor): w.MultiTaskOutput {
    const [, , h, wd] = x.shape as [number, number, number, number];
    return w.tidy(() => {
      const f = this.backbone.forward(x).c4;
      const refined = this.affinity.forward(this.proj.map((p) => p.forward(f, { activation: 'relu' })));
      const outputs: Record<string, w.Tensor> = {};
      this.taskNames.forEach((name, i) => (outputs[name] = w.interpolate(this.heads[i]!.forward(refined[i]!), { size: [h, wd], mode: 'bilinear' })));
      return { outputs, representation: null };
    });
  }

  sharedParameters(): w.Tensor[] {
    return this.backbone.parameters();
  }

  lastSharedLayer(): w.Tensor {
    return w.lastConv(this.backbone).weight;
  }
}

/** What {@link trainCustomLayer} reports. */
export interface CustomLayerRun {
  losses: { semseg: number; depth: number }[];
  metrics: Record<string, Record<string, number>>;
  /** Validation metrics of the trivial baselines: the majority class and the mean training depth. */
  baselines: { mIoU: number; rmse: number };
  gamma: number[];
}

/** Trains the affinity model for `epochs` on `samples` synthetic scenes of `size` pixels. */
export async function trainCustomLayer(opts: { epochs?: number; size?: number; samples?: number; seed?: number } = {}): Promise<CustomLayerRun> {
  const size = opts.size ?? 48;
  const tasks = [w.segmentationTask({ numClasses: 6 }), w.depthTask()];
  const model = new AffinityModel(tasks, 0.125, 16, opts.seed ?? 0);
  const balancer = w.createBalancer({ method: 'equal' }, model.taskNames);
  const optimizer = new w.Adam(model.parameters(), { lr: 3e-3 });
  const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: 5 });
  const sceneTasks = ['semseg', 'depth'] as const;
  const train = new w.DataLoader(new w.SyntheticScenes({ size, length: opts.samples ?? 192, seed: 1, tasks: [...sceneTasks] }), { batchSize: 8, shuffle: true, seed: 2 });
  const val = new w.DataLoader(new w.SyntheticScenes({ size, length: 32, seed: 1, split: 'val', tasks: [...sceneTasks] }), { batchSize: 8 });
  for (let e = 0; e < (opts.epochs ?? 3); e++) await trainer.trainEpoch(train.epoch(e));
  await trainer.drainLogs();
  const metrics = (await trainer.evaluate(val.epoch(0))) as Record<string, Record<string, number>>;
  // Trivial baselines on the same validation scenes: the majority class everywhere (its IoU is the
  // class's pixel share, every other present class scores 0) and the mean depth everywhere.
  const counts = new Float64Array(6);
  const depths: number[] = [];
  for await (const b of val.epoch(0)) {
    const labels = (await b.targets.semseg!.target.data()) as Int32Array;
    const depth = await b.targets.depth!.target.data();
    const mask = await b.targets.depth!.mask!.data();
    for (const l of labels) if (l >= 0 && l < 6) counts[l]++;
    depth.forEach((d, i) => mask[i]! > 0 && depths.push(d));
    w.disposeBatch(b);
  }
  const total = counts.reduce((x, y) => x + y, 0);
  const present = counts.filter((c) => c > 0).length;
  const mean = depths.reduce((x, y) => x + y, 0) / depths.length;
  const baselines = {
    mIoU: Math.max(...counts) / total / present,
    rmse: Math.sqrt(depths.reduce((s2, d) => s2 + (d - mean) ** 2, 0) / depths.length),
  };
  const losses = trainer.history.map((h) => ({ semseg: h.losses.semseg!, depth: h.losses.depth! }));
  const gamma = Array.from(await model.affinity.gamma.data());
  trainer.dispose();
  model.dispose();
  return { losses, metrics, baselines, gamma };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { epochs: { type: 'string', default: '3' }, size: { type: 'string', default: '48' }, samples: { type: 'string', default: '192' } } });
  await w.init();
  // 1. The kernels agree with the composed version, and how long each takes.
  const x = w.randn([8, 16, 32, 32], { seed: 1 });
  const a = w.softmax(w.randn([8, 25, 32, 32], { seed: 2 }), 1);
  const cmp = await w.compareOps(() => localMix(a, x, 2), () => localMixComposed(a, x, 2));
  console.log(`localMix 8x16x32x32, 5x5 window: WGSL ${cmp.aMs.toFixed(2)} ms, composed ${cmp.bMs.toFixed(2)} ms (${cmp.speedup.toFixed(1)}x), max |diff| ${cmp.maxAbsDiff.toExponential(1)}`);
  x.dispose();
  a.dispose();
  // 2. Training.
  const run = await trainCustomLayer({ epochs: Number(values.epochs), size: Number(values.size), samples: Number(values.samples) });
  const first = run.losses.slice(0, 5);
  const last = run.losses.slice(-5);
  const avg = (xs: { semseg: number; depth: number }[], k: 'semseg' | 'depth') => xs.reduce((s, l) => s + l[k], 0) / xs.length;
  console.log(`losses: semseg ${avg(first, 'semseg').toFixed(3)} -> ${avg(last, 'semseg').toFixed(3)}, depth ${avg(first, 'depth').toFixed(3)} -> ${avg(last, 'depth').toFixed(3)}`);
  console.log(`validation: mIoU ${run.metrics.semseg!.mIoU!.toFixed(3)} (majority class ${run.baselines.mIoU.toFixed(3)}), depth RMSE ${run.metrics.depth!.rmse!.toFixed(3)} (mean depth ${run.baselines.rmse.toFixed(3)})`);
  console.log(`affinity gamma: ${run.gamma.map((g) => g.toFixed(3)).join(', ')}`);
  w.shutdown();
}
