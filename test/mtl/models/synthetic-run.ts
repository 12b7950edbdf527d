/**
 * A short real training run on SyntheticScenes (semantic segmentation and depth at 32 x 32) with the
 * Trainer, evaluated on the validation split next to the trivial baselines (majority class, mean
 * depth) that `webmtl train` reports: the check that an architecture learns something real.
 */
import * as w from '../../../src/index.js';
import { accumulateStats, evaluateBaselines, type BaselineStats } from '../../../src/cli/baselines.js';
import { FixedWeights } from '../../../src/mtl/balance/fixed.js';
import type { TaskMetrics } from '../../../src/mtl/metrics/delta-mtl.js';

/** What {@link shortSyntheticRun} measured. */
export interface ShortRun {
  /** Validation metrics of the trained model and of the trivial baselines. */
  model: TaskMetrics;
  baseline: TaskMetrics;
  /** Total training loss of the first and the last step. */
  firstLoss: number;
  lastLoss: number;
  seconds: number;
}

/** Trains `spec` for `steps` steps (batch 8, Adam 2e-3) on 64 training scenes; evaluates on 32 validation scenes. */
export async function shortSyntheticRun(spec: w.ModelSpec, steps: number): Promise<ShortRun> {
  const t0 = performance.now();
  const names = ['semseg', 'depth'] as const;
  const train = new w.SyntheticScenes({ size: 32, length: 64, seed: 5, tasks: names, cache: true });
  const val = new w.SyntheticScenes({ size: 32, length: 32, seed: 5, split: 'val', tasks: names, cache: true });
  const info = train.info;
  const probe = [w.segmentationTask({ numClasses: info.numClasses! }), w.depthTask()];
  const stats: BaselineStats = { counts: {}, sums: {} };
  for await (const h of new w.DataLoader(train, { batchSize: 16 }).hostBatches(0)) accumulateStats(stats, probe, h);
  const depth = stats.sums.depth!;
  const tasks = [w.segmentationTask({ numClasses: info.numClasses! }), w.depthTask({ offset: depth.sum[0]! / depth.n })];
  const model = w.createModel(spec, tasks);
  try {
    const trainer = new w.Trainer({ model, tasks, balancer: new FixedWeights(model.taskNames), optimizer: new w.Adam(model.parameters(), { lr: 2e-3 }), logEvery: 1 });
    const loader = new w.DataLoader(train, { batchSize: 8, shuffle: true, seed: 1, dropLast: true });
    let done = 0;
    for (let e = 0; done < steps; e++) {
      for await (const b of loader.epoch(e)) {
        if (done < steps) await trainer.trainStep(b);
        w.disposeBatch(b);
        done++;
      }
    }
    const total = (k: number) => Object.values(trainer.history[k]!.losses).reduce((a, b) => a + b, 0);
    const valLoader = new w.DataLoader(val, { batchSize: 16 });
    const metrics = await trainer.evaluate(valLoader.epoch(0));
    const baseline = await evaluateBaselines(tasks, stats, valLoader.epoch(1), w.disposeBatch);
    return { model: metrics, baseline, firstLoss: total(0), lastLoss: total(trainer.history.length - 1), seconds: (performance.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}
