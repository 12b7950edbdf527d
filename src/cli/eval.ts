/**
 * `webmtl eval RUN`: rebuilds a run from its config.json, loads its last checkpoint and evaluates
 * the validation split, printing the metrics and writing them to RUN/eval.json.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import { toDevice } from '../data/batch.js';
import { DataLoader } from '../data/loader.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import { Trainer } from '../mtl/trainer.js';
import { init } from '../tensor/context.js';
import { buildRun } from './build.js';
import { fsFailure } from './run-folder.js';
import { readRunConfig } from './run-inputs.js';

export { readRunConfig };

/** The weights of a checkpoint hold NaN or infinity: its metrics would mean nothing. */
export class NonFiniteWeightsError extends WebmtlError {}

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
    for (const [name, t] of model.stateDict()) {
      const v = await t.data();
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i]!)) throw new NonFiniteWeightsError(`${ckpt}: weight '${name}' holds ${v[i]} (at index ${i}); the run diverged, so there is nothing to evaluate`);
      }
    }
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
  const out = join(dir, 'eval.json');
  await writeFile(out, `${JSON.stringify(m, null, 2)}\n`).catch((e: unknown) => {
    throw fsFailure(e, out, 'write the metrics');
  });
}
