#!/usr/bin/env node
/**
 * The `webmtl` command: train, eval, export, compare, tune and report (see README, "The webmtl command").
 * Argument parsing is commander's; unknown options and commands are rejected with the valid ones.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { addConvertCommand } from './convert.js';
import { WebmtlError } from '../errors.js';
import { init, shutdown } from '../tensor/context.js';
import { compareCommand } from './compare.js';
import { evalCommand } from './eval.js';
import { EXPORT_TARGETS, exportCommand } from './export.js';
import { PRESETS } from './presets.js';
import { resolveConfig } from './resolve-config.js';
import { reportCommand } from './report-command.js';
import { isFsError } from './run-folder.js';
import { trainCommand } from './train-command.js';
import { tuneCommand } from './tune.js';

export { resolveConfig };

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * webmtl's version, from the package.json two folders up (src/cli/ in a clone, dist/node/ in the
 * installed package).
 */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'webmtl' && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // Fall through: a copy of the CLI outside its package.
  }
  return 'unknown';
}

/** Builds the commander program (exported for tests). */
export function program(): Command {
  const p = new Command('webmtl')
    .description('Train and compare multi-task dense-prediction networks on WebGPU')
    .version(packageVersion(), '-V, --version', 'print the webmtl version')
    .showHelpAfterError()
    .exitOverride();
  const configOptions = (c: Command) =>
    c
      .addOption(new Option('--preset <name>', `a named configuration (${Object.keys(PRESETS).join(', ')})`))
      .option('--config <file>', 'a JSON run configuration')
      .option('--set <key=value>', 'override one configuration value (repeatable), e.g. --set train.epochs=2', collect);
  configOptions(p.command('train').description('train one configuration into a run folder'))
    .option('--out <dir>', 'run folder (default runs/<name>, or runs/<name>-2 ... when taken)')
    .option('--resume <dir>', 'continue the run in <dir> from its last checkpoint')
    .option('--baselines <file>', 'single-task results (JSON task -> metric -> value) for ΔMTL')
    .option('--no-progress', 'no progress bar')
    .option('--no-report', 'skip the HTML report at the end')
    .action(trainCommand);
  p.command('eval')
    .description('evaluate a run\'s last checkpoint on the validation split')
    .argument('<run>', 'run folder')
    .action(evalCommand);
  p.command('export')
    .description("write a run's model for PyTorch (module, weights, DDP trainer, data) or as an ONNX inference graph")
    .argument('<run>', 'run folder')
    .addOption(new Option('--to <target>', 'what to write').choices([...EXPORT_TARGETS]).makeOptionMandatory())
    .option('--out <dir>', 'output folder (default RUN/export-<target>)')
    .option('--samples <n>', 'pytorch: training samples written to data/train.safetensors (default all; 0 none)')
    .action(exportCommand);
  configOptions(p.command('compare').description('train single-task baselines and several models/balancers, then tabulate ΔMTL'))
    .option('--models <list>', 'comma-separated architectures, each with options after ":" (e.g. mti-net,shared-encoder:head=aspp)', 'shared-encoder')
    .option('--balancers <list>', 'comma-separated balancing methods, each with options after ":" (e.g. gradnorm:alpha=0.5,uncertainty)', 'equal')
    .option('--seeds <list>', 'comma-separated seeds', '0')
    .option('--out <dir>', 'folder for all runs and the table (default runs/compare-<name>)')
    .option('--jobs <n>', 'runs trained at a time, each in its own process', '1')
    .option('--table <name>', 'base name of the table files written into --out', 'compare')
    .option('--no-progress', 'no progress bar')
    .action(compareCommand);
  configOptions(p.command('tune').description("measure every kernel variant on the shapes of one training step and store the fastest for this adapter"))
    .option('--retune', 'measure shapes that already have a stored choice again')
    .option('--rounds <n>', 'timed rounds per kernel variant', '5')
    .option('--list', "print this adapter's stored choices and exit")
    .option('--clear', "delete this adapter's stored choices")
    .action(tuneCommand);
  p.command('report')
    .description('write report.html for a run folder')
    .argument('<run>', 'run folder')
    .action(reportCommand);
  addConvertCommand(p);
  return p;
}

/** Runs the command line `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync([...argv], { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // Our errors and Node's file-system errors (ENOSPC, EROFS ... with the path) are one line; anything else is a bug: its stack.
    const msg = e instanceof WebmtlError || (e instanceof Error && e.name === 'ZodError') || isFsError(e) ? (e as Error).message : (e as Error).stack ?? String(e);
    process.stderr.write(`webmtl: ${msg}\n`);
    return 1;
  } finally {
    shutdown();
  }
}

// Started as a program (not imported by a test): run and exit with the code.
const entry = process.argv[1] ?? '';
if (/(^|[\\/])(main\.(ts|js)|webmtl(\.m?js)?|cli\.m?js)$/.test(entry)) {
  void init; // the commands initialise the GPU themselves
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
