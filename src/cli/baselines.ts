/**
 * Trivial baselines that every trained task must beat (issue: "predicting the mean depth, the
 * majority class, a constant normal"): statistics of the training set turned into a constant
 * prediction, evaluated with the task's own metrics on the validation set.
 */
import type { HostBatch } from '../data/batch.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { Task } from '../mtl/task.js';
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** Per-task training-set statistics behind the constant predictions. */
export interface BaselineStats {
  /** Class counts (segmentation, parts). */
  counts: Record<string, Float64Array>;
  /** Sum and count of valid values per channel (depth, normals, edges, saliency). */
  sums: Record<string, { sum: Float64Array; n: number }>;
}

/** Accumulates statistics from host batches of the training set. */
export function accumulateStats(stats: BaselineStats, tasks: readonly Task[], batch: HostBatch): void {
  for (const task of tasks) {
    const t = batch.targets[task.name];
    if (!t) continue;
    if (t.target instanceof Int32Array) {
      const c = (stats.counts[task.name] ??= new Float64Array(task.channels));
      for (const v of t.target) if (v >= 0 && v < task.channels) c[v]! += 1;
      continue;
    }
    const ch = t.shape.length === 4 ? t.shape[1]! : 1;
    const n = t.shape[0]!;
    const hw = t.target.length / (n * ch);
    const s = (stats.sums[task.name] ??= { sum: new Float64Array(ch), n: 0 });
    for (let b = 0; b < n; b++)
      for (let p = 0; p < hw; p++) {
        if (t.mask && t.mask[b * hw + p] === 0) continue;
        for (let c = 0; c < ch; c++) s.sum[c]! += t.target[(b * ch + c) * hw + p]!;
        s.n++;
      }
  }
}

/** The constant prediction of `task` for a batch of `n` x h x w, as the metrics take it. */
function constantPrediction(task: Task, stats: BaselineStats, n: number, h: number, w: number): Tensor {
  const hw = h * w;
  const counts = stats.counts[task.name];
  if (counts) {
    // One-hot logits of the majority class.
    let best = 0;
    counts.forEach((v, i) => {
      if (v > counts[best]!) best = i;
    });
    const data = new Float32Array(n * task.channels * hw);
    for (let b = 0; b < n; b++) data.fill(1, (b * task.channels + best) * hw, (b * task.channels + best + 1) * hw);
    return fromArray(data, [n, task.channels, h, w]);
  }
  const s = stats.sums[task.name];
  const ch = s?.sum.length ?? task.channels;
  const mean = Array.from({ length: ch }, (_, c) => (s && s.n ? s.sum[c]! / s.n : 0));
  if (ch === 3) {
    const len = Math.hypot(...mean) || 1;
    for (let c = 0; c < 3; c++) mean[c]! /= len;
    if (!s || s.n === 0) mean[2] = -1;
  }
  const data = new Float32Array(n * ch * hw);
  for (let b = 0; b < n; b++) for (let c = 0; c < ch; c++) data.fill(mean[c]!, (b * ch + c) * hw, (b * ch + c + 1) * hw);
  return fromArray(data, [n, ch, h, w]);
}

/**
 * Evaluates the constant predictions on validation batches (given as host batches and their
 * device copies), returning task -> metric -> value like Trainer.evaluate.
 */
export async function evaluateBaselines(
  tasks: readonly Task[],
  stats: BaselineStats,
  batches: AsyncIterable<{ input: Tensor; targets: Record<string, { target: Tensor; mask?: Tensor }> }>,
  dispose: (b: { input: Tensor; targets: Record<string, { target: Tensor; mask?: Tensor }> }) => void,
): Promise<TaskMetrics> {
  const metrics = new Map(tasks.map((t) => [t.name, t.metrics()]));
  for await (const b of batches) {
    try {
      const [n, , h, w] = b.input.shape as [number, number, number, number];
      for (const task of tasks) {
        const truth = b.targets[task.name]!;
        const pred = constantPrediction(task, stats, n, h, w);
        try {
          for (const m of metrics.get(task.name)!) await m.update(pred, truth.target, truth.mask);
        } finally {
          pred.dispose();
        }
      }
    } finally {
      dispose(b);
    }
  }
  const out: TaskMetrics = {};
  for (const [name, ms] of metrics) out[name] = Object.assign({}, ...ms.map((m) => m.compute())) as Record<string, number>;
  return out;
}
