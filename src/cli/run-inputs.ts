/**
 * Files a run reads rather than writes, checked before any training: a run folder's config.json
 * (for `--resume` and `eval`) and a `--baselines` file. Every problem is one line naming the file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { Task } from '../mtl/task.js';
import { readFileSync } from 'node:fs';
import { parseConfig, type RunConfig } from './config.js';
import { fsFailure } from './run-folder.js';
import { RUN_FILES } from './run-files.js';
import { surveyDirections } from './survey-metrics.js';

/** A run input file that cannot be used; the message names the file. */
export class RunInputError extends WebmtlError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/**
 * Reads and validates DIR/config.json: a missing folder or file, an empty or corrupt file and an
 * invalid configuration are each a one-line error naming the file.
 */
export async function readRunConfig(dir: string): Promise<RunConfig> {
  const path = join(dir, RUN_FILES.config);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RunInputError(path, `not found: ${dir} is not a run folder written by \`webmtl train\``);
    throw fsFailure(e, path, 'read the run configuration');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const what = text.trim() ? `is not valid JSON (${(e as Error).message})` : 'is empty';
    throw new RunInputError(path, `${what}; restore it from a copy, or start a new run with \`webmtl train --out\``);
  }
  return parseConfig(value, path);
}

/** Reads a baselines JSON file (task -> metric -> finite number); one line naming the file otherwise. */
export function readBaselines(path: string): TaskMetrics {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RunInputError(path, `cannot read the baselines: ${(e as Error).message.split('\n')[0]}`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(value)) throw new RunInputError(path, 'baselines must be a JSON object task -> metric -> value, e.g. {"semseg": {"mIoU": 0.4}}');
  for (const [task, ms] of Object.entries(value)) {
    if (!isObj(ms)) throw new RunInputError(path, `baselines of task '${task}' must be an object metric -> value`);
    for (const [m, v] of Object.entries(ms)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RunInputError(path, `baseline ${task}.${m} is ${JSON.stringify(v)}, not a finite number`);
    }
  }
  return value as TaskMetrics;
}

/**
 * Checks that `baselines` (from `source`) hold a finite, non-zero value for every task and metric
 * that ΔMTL compares for `tasks`, so a run never trains to the end only to fail writing its result.
 */
export function checkBaselines(baselines: TaskMetrics, tasks: readonly Task[], source = 'the baselines'): void {
  const missing: string[] = [];
  for (const [task, dirs] of Object.entries(surveyDirections(tasks))) {
    for (const metric of Object.keys(dirs)) {
      const v = baselines[task]?.[metric];
      if (typeof v !== 'number' || !Number.isFinite(v) || v === 0) missing.push(`${task}.${metric}${v === undefined ? '' : ` (${v})`}`);
    }
  }
  if (missing.length) {
    throw new RunInputError(source, `ΔMTL needs a finite, non-zero baseline for ${missing.join(', ')}; run \`webmtl compare\` or add them`);
  }
}
