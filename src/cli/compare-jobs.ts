/**
 * Runs the plan of `webmtl compare`: finished runs are reused, a folder that holds an unfinished
 * run continues it (a killed grid goes on where it stopped), the others start. With `jobs` 1 the
 * runs train one after another in this process; with more, each run trains in a forked process
 * (compare-worker.ts), `jobs` at a time, each given an equal share of the CPU threads of a software
 * adapter (LP_NUM_THREADS), since one lavapipe device already uses every core.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebmtlError } from '../errors.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { RunConfig } from './config.js';
import type { WorkerAnswer, WorkerJob } from './compare-worker.js';
import { trainRun } from './train.js';

/** One run of a comparison. */
export interface PlannedRun {
  dir: string;
  config: RunConfig;
  kind: 'single' | 'multi';
  /** The model and balancer labels (multi), the task (single). */
  model?: string;
  balancer?: string;
  task?: string;
  seed: number;
}

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

const canonical = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)])) : v;

/**
 * Throws when the folder of `p` holds a run of another configuration (a grid changed under the
 * same output folder would otherwise mix results); a folder without config.json passes.
 */
export function checkSameRun(p: PlannedRun): void {
  const path = join(p.dir, 'config.json');
  if (!existsSync(path)) return;
  const held = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (JSON.stringify(canonical(held)) !== JSON.stringify(canonical(p.config))) {
    throw new WebmtlError(`${p.dir} holds a run of another configuration than this comparison's; use another --out, or delete that folder to train it again`);
  }
}

/** What {@link runPlan} needs besides the plan. */
export interface RunPlanOptions {
  jobs: number;
  progress: boolean;
  /** Where progress lines go. */
  print: (line: string) => void;
}

/** Trains (or reuses) every run of `plan`; returns run name -> final validation metrics. */
export async function runPlan(plan: readonly PlannedRun[], opts: RunPlanOptions): Promise<Map<string, TaskMetrics>> {
  for (const p of plan) checkSameRun(p);
  const results = new Map<string, TaskMetrics>();
  const todo: [number, PlannedRun][] = [];
  for (const [i, p] of plan.entries()) {
    const m = finishedMetrics(p.dir);
    if (m) {
      opts.print(`[${i + 1}/${plan.length}] ${p.config.name}: finished earlier, reusing`);
      results.set(p.config.name, m);
    } else todo.push([i, p]);
  }
  const job = (p: PlannedRun): WorkerJob => ({ dir: p.dir, config: p.config, resume: existsSync(join(p.dir, 'config.json')) });
  if (opts.jobs <= 1) {
    for (const [i, p] of todo) {
      opts.print(`[${i + 1}/${plan.length}] ${p.config.name}`);
      // A folder that holds a run continues it (from step 0 when it never wrote a checkpoint).
      const j = job(p);
      const r = await trainRun({ dir: p.dir, config: j.resume ? undefined : p.config, resume: j.resume, progress: opts.progress });
      if (r.interrupted || !r.final) throw new WebmtlError(`run ${p.config.name} did not finish`);
      results.set(p.config.name, r.final);
    }
    return results;
  }
  const threads = String(Math.max(1, Math.floor(availableParallelism() / opts.jobs)));
  const queue = [...todo];
  const failures: string[] = [];
  const lane = async () => {
    for (let next = queue.shift(); next && failures.length === 0; next = queue.shift()) {
      const [i, p] = next;
      opts.print(`[${i + 1}/${plan.length}] ${p.config.name} (in a worker)`);
      const a = await inWorker(job(p), threads);
      if (a.ok) results.set(p.config.name, a.final);
      else failures.push(`run ${p.config.name} did not finish: ${a.error}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, todo.length) }, lane));
  if (failures.length) throw new WebmtlError(`${failures.join('\n')}\n(run the same command again: finished runs are reused, the others continue)`);
  return results;
}

const here = fileURLToPath(import.meta.url);
const workerFile = here.replace(/compare-jobs(\.[cm]?[jt]s)$/, `compare-worker${extname(here)}`);
// From the sources (tsx, vitest) the worker needs tsx's loader, whatever flags this process has.
const tsWorker = extname(here) === '.ts';

function inWorker(job: WorkerJob, threads: string): Promise<WorkerAnswer> {
  return new Promise((resolve) => {
    const child = fork(workerFile, [], { execArgv: tsWorker ? ['--import', 'tsx'] : process.execArgv, env: { ...process.env, LP_NUM_THREADS: process.env.LP_NUM_THREADS ?? threads }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let answer: WorkerAnswer | null = null;
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('message', (m: WorkerAnswer) => (answer = m));
    child.on('exit', (code, signal) => resolve(answer ?? { ok: false, error: `worker ended (${signal ?? `exit ${code}`}) ${err.trim().split('\n').slice(-3).join(' | ')}` }));
    child.send(job);
  });
}
