/**
 * The cost columns of `webmtl compare`, as the survey's tables give them: a model's parameters and
 * FLOPs per image (from one forward on zeros, src/mtl/models/summary.ts), and a run's time per
 * training step and wall time (from the epoch records of its metrics.jsonl). Also the per-step
 * balancing weights a run logged, for the weight plots of docs/results.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, type ModelSpec } from '../mtl/models/create-model.js';
import { summary } from '../mtl/models/summary.js';
import type { Task } from '../mtl/task.js';
import type { RunConfig } from './config.js';
import { splitPretrained } from './pretrained-backbone.js';
import type { EpochRecord, StepRecord } from './run-files.js';

/** A model's size. */
export interface ModelCost {
  /** Parameter elements. */
  params: number;
  /** FLOPs of one forward for one image (multiply-adds x 2, conv and matmul only). */
  flops: number;
}

/**
 * Parameters and FLOPs per image of the model `cfg.model` describes for `tasks`, at the configured
 * input size. The model is built (on the device), measured and disposed; pretrained weights are not
 * loaded (they change no count).
 */
export function modelCost(cfg: RunConfig, tasks: readonly Task[]): ModelCost {
  const { spec } = splitPretrained(cfg.model);
  const model = createModel({ seed: cfg.seed, ...spec } as unknown as ModelSpec, tasks);
  try {
    const size = cfg.data.size;
    const [h, w] = typeof size === 'number' ? [size, size] : size;
    const s = summary(model, [1, 3, h, w]);
    return { params: s.totalParams, flops: s.totalFlops };
  } finally {
    model.dispose();
  }
}

/** A finished run's timing. */
export interface RunTiming {
  /** Optimisation steps taken. */
  steps: number;
  /** Mean seconds per training step (epoch training time over steps; validation excluded). */
  stepSeconds: number;
  /** Seconds from the start of training to the end of the last epoch (validation included). */
  wallSeconds: number;
}

function records(dir: string): unknown[] {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const out: unknown[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A torn last line (a killed run) is not a record.
    }
  }
  return out;
}

/** The timing of the run in `dir` from its epoch records, or null when it has none. */
export function runTiming(dir: string): RunTiming | null {
  const epochs = records(dir).filter((r): r is EpochRecord => (r as { type?: string }).type === 'epoch');
  if (epochs.length === 0) return null;
  const last = epochs[epochs.length - 1]!;
  const train = epochs.reduce((a, e) => a + e.seconds, 0);
  return { steps: last.step, stepSeconds: last.step > 0 ? train / last.step : 0, wallSeconds: last.time };
}

/** The balancing weights the run in `dir` logged: one entry per step record, in step order. */
export function runWeights(dir: string): { step: number; weights: Record<string, number> }[] {
  return records(dir)
    .filter((r): r is StepRecord => (r as { type?: string }).type === 'step')
    .map((r) => ({ step: r.step, weights: r.weights }));
}
