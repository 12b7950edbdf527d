/**
 * `webmtl compare`: the survey's protocol on one configuration. For every seed it trains one
 * single-task network per task (the baselines) and every model x balancer combination, then
 * reports each combination's validation metrics and ΔMTL against the single-task baselines, as mean
 * and spread over seeds, with the survey's cost columns (parameters, FLOPs per image, time per
 * step), in <table>.json and <table>.md (default compare.*). Models and balancers take options
 * (`gradnorm:alpha=0.5`, `shared-encoder:head=aspp`, compare-spec.ts). Finished runs found in the
 * output folder are reused and unfinished ones continue, so an interrupted comparison goes on where
 * it stopped, and several comparisons sharing one folder share their runs; `--jobs N` trains N runs
 * at a time (compare-jobs.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import { deltaMTL, type TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { Task } from '../mtl/task.js';
import { BALANCE_METHODS, createBalancer, type BalancerSpec } from '../mtl/balance/index.js';
import { ARCHITECTURES, archTakes, type Arch } from '../mtl/models/create-model.js';
import { formatCount } from '../mtl/models/summary.js';
import { init } from '../tensor/context.js';
import { fsFailure, makeRunDir } from './run-folder.js';
import { buildTasks, openData } from './build.js';
import { parseConfig, type RunConfig } from './config.js';
import { modelCost, runTiming, type ModelCost } from './compare-costs.js';
import { runPlan, type PlannedRun } from './compare-jobs.js';
import { checkEntries, folderPart, parseEntries, type GridEntry } from './compare-spec.js';
import { resolveConfig } from './resolve-config.js';
import { SURVEY_METRIC, surveyDirections } from './survey-metrics.js';

export { finishedMetrics } from './compare-jobs.js';

/** Options commander passes to the compare action. */
export interface CompareCommandOptions {
  preset?: string;
  config?: string;
  set?: string[];
  models: string;
  balancers: string;
  seeds: string;
  out?: string;
  progress: boolean;
  /** Runs trained at a time (default 1). */
  jobs?: string;
  /** Base name of the written table files (default 'compare'). */
  table?: string;
  /** The command line recorded in the table files (default: this process's arguments). */
  commandLine?: string;
}

/** One row of the comparison: a model x balancer over seeds. */
export interface CompareRow {
  model: string;
  balancer: string;
  /** ΔMTL per seed, in percent. */
  delta: number[];
  /** Survey metric per task, per seed. */
  metrics: Record<string, number[]>;
  /** Parameters and FLOPs per image of the model. */
  params: number;
  flops: number;
  /** Seconds per training step and wall seconds of the run, per seed. */
  stepSeconds: number[];
  wallSeconds: number[];
  /** The run folder (relative to the comparison's folder), per seed. */
  runs: string[];
}

/** The single-task row's costs: one network per task, summed (as the survey counts them). */
export interface SingleTaskCost extends ModelCost {
  stepSeconds: number[];
  /** ΔMTL per seed of that seed's single-task networks against the mean over seeds (spread around 0). */
  delta: number[];
}

/** Mean and sample standard deviation. */
export function meanStd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/** A value list as `mean ± std` (just the mean for one value). */
export function fmtMeanStd(xs: readonly number[], digits = 4): string {
  const [m, s] = meanStd(xs);
  return xs.length > 1 ? `${m.toPrecision(digits)} ± ${s.toPrecision(2)}` : m.toPrecision(digits);
}

/** The markdown table of a comparison (with the cost columns when `single` is given). */
export function compareTable(rows: readonly CompareRow[], baselines: TaskMetrics, tasks: readonly string[], single?: SingleTaskCost): string {
  const ms = (xs: readonly number[]) => {
    if (!xs.length) return '-';
    const [m, s] = meanStd(xs.map((x) => x * 1000));
    const d = m < 10 ? 1 : 0;
    return xs.length > 1 ? `${m.toFixed(d)} ± ${s.toFixed(d)}` : m.toFixed(d);
  };
  const head = ['model', 'balancer', ...tasks.map((t) => `${t} ${SURVEY_METRIC[t] ?? ''}`.trim()), 'ΔMTL (%)', 'params', 'FLOPs', 'step (ms)'];
  const base = ['single-task', '-', ...tasks.map((t) => (baselines[t]?.[SURVEY_METRIC[t] ?? ''] ?? NaN).toPrecision(4)), single ? fmtMeanStd(single.delta, 3) : '0'];
  base.push(...(single ? [formatCount(single.params), formatCount(single.flops), ms(single.stepSeconds)] : ['-', '-', '-']));
  const body = rows.map((r) => [r.model, r.balancer, ...tasks.map((t) => fmtMeanStd(r.metrics[t] ?? [NaN])), fmtMeanStd(r.delta, 3), formatCount(r.params), formatCount(r.flops), ms(r.stepSeconds)]);
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), line(base), ...body.map(line)].join('\n');
}

function positiveInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new WebmtlError(`--${what}: '${s}' is not a positive integer`);
  return n;
}

/** Runs `webmtl compare` (see the file comment). */
export async function compareCommand(opts: CompareCommandOptions): Promise<void> {
  const base = resolveConfig(opts);
  const models = parseEntries(opts.models, 'models');
  const balancers = parseEntries(opts.balancers, 'balancers');
  // Names and options are checked before anything trains (the single-task runs come first and take a while).
  const modelKeys = (a: string) => Object.keys(ARCHITECTURES[a as Arch].keys).filter((k) => k !== 'arch' && k !== 'seed');
  checkEntries(models, Object.keys(ARCHITECTURES), 'models', modelKeys);
  checkEntries(balancers, BALANCE_METHODS, 'balancers');
  const seeds = parseEntries(opts.seeds, 'seeds').map(({ label: s }) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new WebmtlError(`--seeds: '${s}' is not a non-negative integer`);
    return n;
  });
  const jobs = positiveInt(opts.jobs ?? '1', 'jobs');
  const tableName = opts.table ?? 'compare';
  if (!/^[A-Za-z0-9._-]+$/.test(tableName)) throw new WebmtlError(`--table: '${tableName}' is not a plain file name`);
  const out = opts.out ?? join('runs', `compare-${base.name}`);
  const rt = await init();
  // Balancer options are checked by building each balancer once (the method knows its options).
  const taskNames = [...base.tasks];
  for (const b of balancers) {
    try {
      // 'fixed' without weights takes the tasks' own weights when the run is built (build.ts).
      const weights = b.name === 'fixed' && !('weights' in b.options) ? { weights: taskNames.map(() => 1) } : {};
      createBalancer({ method: b.name, ...weights, ...b.options } as unknown as BalancerSpec, taskNames).dispose();
    } catch (e) {
      throw new WebmtlError(`--balancers: '${b.label}': ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Head options belong to the archs that take them; the decoder-focused ones build their own heads.
  const modelFor = (m: GridEntry | 'single-task'): RunConfig['model'] => {
    const arch = m === 'single-task' ? m : m.name;
    const options = m === 'single-task' ? {} : m.options;
    const { head: _h, headChannels: _c, rates: _r, ...rest } = base.model as Record<string, unknown>;
    const from = archTakes(arch, 'head') ? base.model : rest;
    return { ...from, ...options, arch } as RunConfig['model'];
  };
  const variant = (name: string, patch: Partial<RunConfig>): RunConfig => parseConfig({ ...structuredClone(base), ...patch, name }, `compare run ${name}`);
  // Validate every combination before training anything.
  const plan: PlannedRun[] = [];
  for (const seed of seeds) {
    for (const task of base.tasks) {
      const name = `single-${task}-s${seed}`;
      plan.push({ dir: join(out, name), kind: 'single', task, seed, config: variant(name, { seed, tasks: [task], model: modelFor('single-task'), balancer: { method: 'equal' } }) });
    }
    for (const model of models)
      for (const balancer of balancers) {
        const name = `${folderPart(model.label)}-${folderPart(balancer.label)}-s${seed}`;
        const config = variant(name, { seed, model: modelFor(model), balancer: { method: balancer.name, ...balancer.options } });
        plan.push({ dir: join(out, name), kind: 'multi', model: model.label, balancer: balancer.label, seed, config });
      }
  }
  const data = await openData(base);
  const tasks: Task[] = buildTasks(base, data.train.info);
  // Costs are measured before training, so a bad model option fails before the first run.
  const costs = new Map<string, ModelCost>();
  for (const m of models) {
    try {
      costs.set(m.label, modelCost({ ...base, model: modelFor(m) }, tasks));
    } catch (e) {
      throw new WebmtlError(`--models: '${m.label}': ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const singles = tasks.map((t) => modelCost({ ...base, model: modelFor('single-task') }, [t]));
  await makeRunDir(out);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(`webmtl compare: ${plan.length} runs on ${rt.adapterName} into ${out}${jobs > 1 ? `, ${jobs} at a time` : ''}`);
  const results = await runPlan(plan, { jobs, progress: opts.progress, print });
  // Baselines: each task's single-task metrics, averaged over seeds.
  const baselines: TaskMetrics = {};
  for (const t of base.tasks) {
    const per = seeds.map((s) => results.get(`single-${t}-s${s}`)![t]!);
    baselines[t] = Object.fromEntries(Object.keys(per[0]!).map((k) => [k, per.reduce((a, x) => a + x[k]!, 0) / per.length]));
  }
  const timing = new Map(plan.map((p) => [p.config.name, runTiming(p.dir)]));
  // The single-task row's own ΔMTL per seed (each seed's networks against the mean over seeds): its spread.
  const singleDelta = seeds.map((s) => deltaMTL(Object.fromEntries(base.tasks.map((t) => [t, results.get(`single-${t}-s${s}`)![t]!])), baselines, surveyDirections(tasks)));
  const single: SingleTaskCost = {
    delta: singleDelta,
    params: singles.reduce((a, c) => a + c.params, 0),
    flops: singles.reduce((a, c) => a + c.flops, 0),
    stepSeconds: seeds.map((s) => base.tasks.reduce((a, t) => a + (timing.get(`single-${t}-s${s}`)?.stepSeconds ?? NaN), 0)),
  };
  const directions = surveyDirections(tasks);
  const rows: CompareRow[] = [];
  for (const model of models)
    for (const balancer of balancers) {
      const { params, flops } = costs.get(model.label)!;
      const row: CompareRow = { model: model.label, balancer: balancer.label, delta: [], metrics: {}, params, flops, stepSeconds: [], wallSeconds: [], runs: [] };
      for (const s of seeds) {
        const name = `${folderPart(model.label)}-${folderPart(balancer.label)}-s${s}`;
        const m = results.get(name)!;
        row.delta.push(deltaMTL(m, baselines, directions));
        for (const t of base.tasks) (row.metrics[t] ??= []).push(m[t]![SURVEY_METRIC[t] ?? Object.keys(m[t]!)[0]!]!);
        const tm = timing.get(name);
        row.stepSeconds.push(tm?.stepSeconds ?? NaN);
        row.wallSeconds.push(tm?.wallSeconds ?? NaN);
        row.runs.push(name);
      }
      rows.push(row);
    }
  const runs = plan.map((p) => ({ name: p.config.name, wallSeconds: timing.get(p.config.name)?.wallSeconds ?? 0 }));
  const command = opts.commandLine ?? `webmtl compare ${process.argv.slice(3).join(' ')}`.trim();
  const table = compareTable(rows, baselines, base.tasks, single);
  const write = (name: string, text: string) =>
    writeFile(join(out, name), text).catch((e: unknown) => {
      throw fsFailure(e, join(out, name), 'write the comparison', 'run the same command again once fixed (finished runs are reused)');
    });
  const json = { command, adapter: rt.adapterName, jobs, config: base, seeds, tasks: base.tasks, directions, baselines, singleTask: single, rows, runs };
  await write(`${tableName}.json`, `${JSON.stringify(json, null, 2)}\n`);
  await write(`${tableName}.md`, `Command: \`${command}\` (adapter: ${rt.adapterName})\n\n${table}\n`);
  print(`\n${table}\n\nwritten to ${join(out, `${tableName}.md`)}`);
}
