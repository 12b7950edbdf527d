/**
 * `webmtl compare`: the survey's protocol on one configuration. For every seed it trains one
 * single-task network per task (the baselines) and every model x balancer combination, then
 * reports each combination's validation metrics and ΔMTL against the single-task baselines, as mean
 * and spread over seeds, in compare.json and compare.md. Finished runs found in the output folder
 * are reused, so an interrupted comparison continues where it stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../errors.js';
import { deltaMTL, type TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { Task } from '../mtl/task.js';
import { BALANCE_METHODS } from '../mtl/balance/index.js';
import { ARCHITECTURES } from '../mtl/models/create-model.js';
import { init } from '../tensor/context.js';
import { fsFailure, makeRunDir } from './run-folder.js';
import { buildTasks, openData } from './build.js';
import { parseConfig, type RunConfig } from './config.js';
import { resolveConfig } from './resolve-config.js';
import { SURVEY_METRIC, surveyDirections } from './survey-metrics.js';
import { trainRun } from './train.js';

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
}

/** One row of the comparison: a model x balancer over seeds. */
export interface CompareRow {
  model: string;
  balancer: string;
  /** ΔMTL per seed, in percent. */
  delta: number[];
  /** Survey metric per task, per seed. */
  metrics: Record<string, number[]>;
}

const list = (s: string, what: string): string[] => {
  const xs = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (xs.length === 0) throw new WebmtlError(`--${what} needs at least one value`);
  return xs;
};

/** The final validation metrics of a finished run in `dir`, or null when it has not finished. */
export function finishedMetrics(dir: string): TaskMetrics | null {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return null;
  for (const line of readFileSync(path, 'utf8').split('\n').reverse()) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as { type?: string; val?: TaskMetrics };
      if (o.type === 'final' && o.val) return o.val;
    } catch {
      return null;
    }
  }
  return null;
}

/** Mean and sample standard deviation. */
export function meanStd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/** The markdown table of a comparison. */
export function compareTable(rows: readonly CompareRow[], baselines: TaskMetrics, tasks: readonly string[]): string {
  const fmt = (xs: readonly number[], digits = 4) => {
    const [m, s] = meanStd(xs);
    return xs.length > 1 ? `${m.toPrecision(digits)} ± ${s.toPrecision(2)}` : m.toPrecision(digits);
  };
  const head = ['model', 'balancer', ...tasks.map((t) => `${t} ${SURVEY_METRIC[t] ?? ''}`.trim()), 'ΔMTL (%)'];
  const base = ['single-task', '-', ...tasks.map((t) => (baselines[t]?.[SURVEY_METRIC[t] ?? ''] ?? NaN).toPrecision(4)), '0'];
  const body = rows.map((r) => [r.model, r.balancer, ...tasks.map((t) => fmt(r.metrics[t] ?? [NaN])), fmt(r.delta, 3)]);
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), line(base), ...body.map(line)].join('\n');
}

/** Runs `webmtl compare` (see the file comment). */
export async function compareCommand(opts: CompareCommandOptions): Promise<void> {
  const base = resolveConfig(opts);
  const models = list(opts.models, 'models');
  const balancers = list(opts.balancers, 'balancers');
  // Names are checked before anything trains (the single-task runs come first and take a while).
  const unknown = (xs: string[], valid: readonly string[], what: string) => {
    const bad = xs.filter((x) => !valid.includes(x));
    if (bad.length) throw new WebmtlError(`--${what}: unknown ${bad.map((b) => `'${b}'`).join(', ')}; valid: ${valid.join(', ')}`);
  };
  unknown(models, Object.keys(ARCHITECTURES), 'models');
  unknown(balancers, BALANCE_METHODS, 'balancers');
  const seeds = list(opts.seeds, 'seeds').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new WebmtlError(`--seeds: '${s}' is not a non-negative integer`);
    return n;
  });
  const out = opts.out ?? join('runs', `compare-${base.name}`);
  await makeRunDir(out);
  const rt = await init();
  // Head options belong to the encoder-focused archs; the decoder-focused ones build their own heads.
  const modelFor = (arch: string): RunConfig['model'] => {
    const { head: _h, headChannels: _c, rates: _r, ...rest } = base.model as Record<string, unknown>;
    return (arch === 'pad-net' || arch === 'mti-net' ? { ...rest, arch } : { ...base.model, arch }) as RunConfig['model'];
  };
  const variant = (name: string, patch: Partial<RunConfig>): RunConfig => parseConfig({ ...structuredClone(base), ...patch, name }, `compare run ${name}`);
  // Validate every combination before training anything.
  const plan: { dir: string; config: RunConfig; kind: 'single' | 'multi'; model?: string; balancer?: string; task?: string; seed: number }[] = [];
  for (const seed of seeds) {
    for (const task of base.tasks) {
      const name = `single-${task}-s${seed}`;
      plan.push({ dir: join(out, name), kind: 'single', task, seed, config: variant(name, { seed, tasks: [task], model: modelFor('single-task'), balancer: { method: 'equal' } }) });
    }
    for (const model of models)
      for (const balancer of balancers) {
        const name = `${model}-${balancer}-s${seed}`;
        plan.push({ dir: join(out, name), kind: 'multi', model, balancer, seed, config: variant(name, { seed, model: modelFor(model), balancer: { method: balancer } }) });
      }
  }
  process.stdout.write(`webmtl compare: ${plan.length} runs on ${rt.adapterName} into ${out}\n`);
  const results = new Map<string, TaskMetrics>();
  for (const [i, p] of plan.entries()) {
    let m = finishedMetrics(p.dir);
    if (m) process.stdout.write(`[${i + 1}/${plan.length}] ${p.config.name}: finished earlier, reusing\n`);
    else {
      process.stdout.write(`[${i + 1}/${plan.length}] ${p.config.name}\n`);
      // A folder that holds a run continues it (from step 0 when it never wrote a checkpoint).
      const resume = existsSync(join(p.dir, 'config.json'));
      const r = await trainRun({ dir: p.dir, config: resume ? undefined : p.config, resume, progress: opts.progress });
      if (r.interrupted || !r.final) throw new WebmtlError(`run ${p.config.name} did not finish`);
      m = r.final;
    }
    results.set(p.config.name, m);
  }
  // Baselines: each task's single-task metrics, averaged over seeds.
  const tasks: Task[] = buildTasks(base, (await openData(base)).train.info);
  const baselines: TaskMetrics = {};
  for (const t of base.tasks) {
    const per = seeds.map((s) => results.get(`single-${t}-s${s}`)![t]!);
    baselines[t] = Object.fromEntries(Object.keys(per[0]!).map((k) => [k, per.reduce((a, x) => a + x[k]!, 0) / per.length]));
  }
  const directions = surveyDirections(tasks);
  const rows: CompareRow[] = [];
  for (const model of models)
    for (const balancer of balancers) {
      const row: CompareRow = { model, balancer, delta: [], metrics: {} };
      for (const s of seeds) {
        const m = results.get(`${model}-${balancer}-s${s}`)!;
        row.delta.push(deltaMTL(m, baselines, directions));
        for (const t of base.tasks) (row.metrics[t] ??= []).push(m[t]![SURVEY_METRIC[t] ?? Object.keys(m[t]!)[0]!]!);
      }
      rows.push(row);
    }
  const command = `webmtl compare ${process.argv.slice(3).join(' ')}`.trim();
  const table = compareTable(rows, baselines, base.tasks);
  const write = (name: string, text: string) =>
    writeFile(join(out, name), text).catch((e: unknown) => {
      throw fsFailure(e, join(out, name), 'write the comparison', 'run the same command again once fixed (finished runs are reused)');
    });
  await write('compare.json', `${JSON.stringify({ command, adapter: rt.adapterName, seeds, baselines, rows }, null, 2)}\n`);
  await write('compare.md', `Command: \`${command}\` (adapter: ${rt.adapterName})\n\n${table}\n`);
  process.stdout.write(`\n${table}\n\nwritten to ${join(out, 'compare.md')}\n`);
}
