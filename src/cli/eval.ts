/**
 * `webmtl eval RUN`: rebuilds a run from its config.json, loads its last checkpoint and evaluates
 * the validation split, printing the metrics and writing them to RUN/eval.json.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import { toDevice } from '../data/batch.js';
import { DataLoader } from '../data/loader.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import { Trainer } from '../mtl/trainer.js';
import { init } from '../tensor/context.js';
import { buildRun } from './build.js';
import { parseConfig, type RunConfig } from './config.js';

/** Reads and validates RUN/config.json. */
export async function readRunConfig(dir: string): Promise<RunConfig> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new WebmtlError(`${dir} is not a run folder (no config.json)`);
  return parseConfig(JSON.parse(await readFile(path, 'utf8')), path);
}

/** Evaluates the last checkpoint of the run in `dir` on its validation split. */
export async function evaluateRun(dir: string): Promise<TaskMetrics> {
  const config = await readRunConfig(dir);
  const ckpt = join(dir, 'checkpoints/last.safetensors');
  if (!existsSync(ckpt)) throw new WebmtlError(`${dir} has no checkpoint (${ckpt})`);
  const objects = await buildRun(config);
  const { data, tasks, model, balancer, optimizer, scheduler } = objects;
  const trainer = new Trainer({ model, tasks, balancer, optimizer, scheduler });
  try {
    await trainer.loadCheckpoint(ckpt);
    const loader = new DataLoader(data.val, { batchSize: config.train.batchSize, tasks: config.tasks, augment: data.valAugment ?? undefined });
    return await trainer.evaluate(
      (async function* () {
        for await (const h of loader.hostBatches(0)) yield toDevice(h);
      })(),
    );
  } finally {
    trainer.dispose();
    balancer.dispose();
    model.dispose();
  }
}

/** Formats task -> metric -> value as aligned lines. */
export function formatMetrics(m: TaskMetrics): string {
  return Object.entries(m)
    .map(([t, ms]) => `${t.padEnd(12)} ${Object.entries(ms).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join('  ')}`)
    .join('\n');
}

/** The `webmtl eval` action. */
export async function evalCommand(dir: string): Promise<void> {
  await init();
  const m = await evaluateRun(dir);
  process.stdout.write(`${formatMetrics(m)}\n`);
  await writeFile(join(dir, 'eval.json'), `${JSON.stringify(m, null, 2)}\n`);
}
