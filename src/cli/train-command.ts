/**
 * The `webmtl train` action: resolves the configuration, initialises WebGPU, traps Ctrl-C (the
 * first one stops after the current step with a checkpoint; a second one exits at once), trains,
 * then writes the sample images and the HTML report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import { init } from '../tensor/context.js';
import { resolveConfig } from './resolve-config.js';
import { finishRun } from './finish.js';
import { trainRun } from './train.js';

/** Options commander passes to the train action. */
export interface TrainCommandOptions {
  preset?: string;
  config?: string;
  set?: string[];
  out?: string;
  resume?: string;
  baselines?: string;
  progress: boolean;
  report: boolean;
}

/** Reads a baselines JSON file (task -> metric -> value). */
export function readBaselines(path: string): TaskMetrics {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TaskMetrics;
  } catch (e) {
    throw new WebmtlError(`cannot read baselines ${path}: ${(e as Error).message}`);
  }
}

/** runs/<name>, or runs/<name>-2, -3 ... when earlier runs hold the name (an explicit --out never moves). */
export function freshRunDir(name: string): string {
  let dir = join('runs', name);
  for (let k = 2; existsSync(join(dir, 'config.json')); k++) dir = join('runs', `${name}-${k}`);
  return dir;
}

/** Runs `webmtl train` (see the file comment). */
export async function trainCommand(opts: TrainCommandOptions): Promise<void> {
  const resume = opts.resume !== undefined;
  if (resume && (opts.preset || opts.config || opts.set?.length)) {
    throw new WebmtlError('--resume continues a run with its own config.json; do not combine it with --preset, --config or --set');
  }
  const config = resume ? undefined : resolveConfig(opts);
  const dir = opts.resume ?? opts.out ?? freshRunDir(config!.name);
  const rt = await init();
  process.stdout.write(`webmtl: ${resume ? 'resuming' : 'training'} ${dir} on ${rt.adapterName}\n`);
  const controller = new AbortController();
  let presses = 0;
  const onSigint = () => {
    if (++presses > 1) process.exit(130);
    process.stderr.write('\nwebmtl: stopping after this step and writing a checkpoint (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const res = await trainRun({
      dir,
      config,
      resume,
      progress: opts.progress,
      signal: controller.signal,
      baselines: opts.baselines ? readBaselines(opts.baselines) : undefined,
      finish: opts.report ? finishRun : undefined,
    });
    if (res.interrupted) process.exitCode = 130;
    else process.stdout.write(`webmtl: done, ${res.steps} steps; run folder ${dir}${opts.report ? `, report ${join(dir, 'report.html')}` : ''}\n`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
