/**
 * The `webmtl train` action: resolves the configuration, initialises WebGPU, traps Ctrl-C and
 * SIGTERM (the first one stops after the current step with a checkpoint; a second one exits at
 * once), trains, then writes the sample images and the HTML report.
 */
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { WebmtlError } from '../errors.js';
import { init } from '../tensor/context.js';
import { resolveConfig } from './resolve-config.js';
import { finishRun } from './finish.js';
import { readBaselines } from './run-inputs.js';
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

export { readBaselines };

/**
 * runs/<name>, or runs/<name>-2, -3 ... when earlier runs hold the name (an explicit --out never
 * moves). A name that would leave runs/ (`..`, `a/b`) is refused.
 */
export function freshRunDir(name: string): string {
  if (!name || name === '.' || name === '..' || /[\\/]/.test(name) || !resolve('runs', name).startsWith(resolve('runs') + sep)) {
    throw new WebmtlError(`run name ${JSON.stringify(name)} cannot be a folder name under runs/; use letters, digits, . _ - (not '.' or '..')`);
  }
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
  // Read before the GPU starts and before anything trains.
  const baselines = opts.baselines ? readBaselines(opts.baselines) : undefined;
  // Signals are trapped from here on, so one that arrives while the GPU starts is a clean stop too.
  const controller = new AbortController();
  let presses = 0;
  let signalCode = 130;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGTERM' ? 143 : 130;
    if (++presses > 1) process.exit(code);
    signalCode = code;
    process.stderr.write(`\nwebmtl: ${signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'}: stopping after the current step (${signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'} again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const rt = await init();
    process.stdout.write(`webmtl: ${resume ? 'resuming' : 'training'} ${dir} on ${rt.adapterName}\n`);
    const res = await trainRun({
      dir,
      config,
      resume,
      progress: opts.progress,
      signal: controller.signal,
      baselines,
      baselinesSource: opts.baselines,
      finish: opts.report ? finishRun : undefined,
    });
    const report = join(dir, 'report.html');
    if (res.interrupted) process.exitCode = signalCode;
    else process.stdout.write(`webmtl: done, ${res.steps} steps; run folder ${dir}${opts.report && existsSync(report) ? `, report ${report}` : ''}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
