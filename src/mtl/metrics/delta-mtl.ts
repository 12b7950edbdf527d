/**
 * The multi-task performance measure Δ_MTL of Vandenhende et al. (arXiv 2004.13379): the average
 * relative change, in percent, of a multi-task model against single-task baselines.
 */
import { ArgumentError } from '../../errors.js';

/** Per task, per metric name, a value. */
export type TaskMetrics = Record<string, Record<string, number>>;

/** Options of {@link deltaMTL}. */
export interface DeltaMTLOptions {
  /**
   * 'task' (default): average each task's metric terms first, then average over tasks, so every
   * task weighs the same however many metrics it reports. 'metric': one flat mean over all terms.
   */
  average?: 'task' | 'metric';
}

/**
 * Δ_MTL = mean of (-1)^{l_i} · (M_m,i − M_b,i) / M_b,i · 100, where l_i = 1 when lower is better for
 * term i (so an improvement is always positive). The terms are exactly the (task, metric) pairs listed
 * in `directions` (true = higher is better, e.g. a metric's `higherIsBetter`); `results` and
 * `baselines` must hold each of them, and other entries are ignored. The survey uses one metric per
 * task (seg mIoU, depth rmse, normals mean error, edge odsF, saliency maxF), where both averaging
 * modes agree; with several metrics per task the default averages within each task first.
 * Throws an ArgumentError for a missing value, a zero or non-finite baseline, or no terms at all.
 */
export function deltaMTL(
  results: TaskMetrics,
  baselines: TaskMetrics,
  directions: Record<string, Record<string, boolean>>,
  opts: DeltaMTLOptions = {},
): number {
  const op = 'deltaMTL';
  const perTask: number[] = [];
  const all: number[] = [];
  for (const [task, dirs] of Object.entries(directions)) {
    const terms: number[] = [];
    for (const [metric, higher] of Object.entries(dirs)) {
      const m = results[task]?.[metric];
      const b = baselines[task]?.[metric];
      if (m === undefined || b === undefined) {
        throw new ArgumentError(op, `${task}.${metric} is missing from the ${m === undefined ? 'results' : 'baselines'}`);
      }
      if (!Number.isFinite(b) || b === 0 || !Number.isFinite(m)) {
        throw new ArgumentError(op, `${task}.${metric}: need finite values and a non-zero baseline, got ${m} vs baseline ${b}`);
      }
      terms.push(((higher ? 1 : -1) * (m - b) * 100) / b);
    }
    if (terms.length === 0) continue;
    perTask.push(terms.reduce((s, v) => s + v, 0) / terms.length);
    all.push(...terms);
  }
  if (all.length === 0) throw new ArgumentError(op, 'directions name no (task, metric) pair');
  const xs = (opts.average ?? 'task') === 'task' ? perTask : all;
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
