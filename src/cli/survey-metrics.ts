/**
 * The one metric per task that the MTL survey's tables (and its ΔMTL) use: segmentation and human
 * parts mIoU, depth RMSE, normals mean angle error, edge ODS F, saliency max F.
 */
import type { Task } from '../mtl/task.js';

/** Task name -> the survey's metric for it. */
export const SURVEY_METRIC: Readonly<Record<string, string>> = {
  semseg: 'mIoU',
  human_parts: 'mIoU',
  depth: 'rmse',
  normals: 'mean',
  edge: 'odsF',
  sal: 'maxF',
};

/**
 * ΔMTL directions for `tasks`: the survey's metric of each known task, or every metric of a task
 * the survey does not cover, each with its `higherIsBetter` from the task's metrics.
 */
export function surveyDirections(tasks: readonly Task[]): Record<string, Record<string, boolean>> {
  const out: Record<string, Record<string, boolean>> = {};
  for (const t of tasks) {
    const all: Record<string, boolean> = Object.assign({}, ...t.metrics().map((m) => m.higherIsBetter));
    const key = SURVEY_METRIC[t.name];
    out[t.name] = key && key in all ? { [key]: all[key]! } : all;
  }
  return out;
}
