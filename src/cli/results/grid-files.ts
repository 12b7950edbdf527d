/**
 * What the results page reads from a grid folder: the <table>.json files `webmtl compare --table`
 * wrote there, the weights each run logged (its metrics.jsonl) and the GradNorm toy's toy.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompareRow, SingleTaskCost } from '../compare.js';
import { runWeights } from '../compare-costs.js';
import type { ToyReport } from './toy.js';

/** A <table>.json as compare writes it (the fields the page reads). */
export interface CompareFile {
  command: string;
  adapter: string;
  jobs?: number;
  seeds: number[];
  tasks: string[];
  /** Task -> survey metric -> higher is better. */
  directions: Record<string, Record<string, boolean>>;
  baselines: Record<string, Record<string, number>>;
  singleTask: SingleTaskCost;
  rows: CompareRow[];
  runs: { name: string; wallSeconds: number }[];
}

/** Per-step weights of a run, by run name (what the weight plots need). */
export type WeightsOf = (run: string) => { step: number; weights: Record<string, number> }[];

/** The parsed records of a run's metrics.jsonl, by run name ([] when it has none). */
export type RecordsOf = (run: string) => unknown[];

/** The records reader over the run folders in `dir` (a torn last line is skipped). */
export function recordsIn(dir: string): RecordsOf {
  return (run) => {
    const path = join(dir, run, 'metrics.jsonl');
    if (!existsSync(path)) return [];
    const out: unknown[] = [];
    for (const l of readFileSync(path, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        out.push(JSON.parse(l));
      } catch {
        // a killed run's torn last line is not a record
      }
    }
    return out;
  };
}

/** Reads `<dir>/<table>.json`; throws naming the file when it is missing. */
export function readCompareFile(dir: string, table: string): CompareFile {
  const path = join(dir, `${table}.json`);
  if (!existsSync(path)) throw new Error(`${path}: not found (the grid's compare step for '${table}' has not finished)`);
  return JSON.parse(readFileSync(path, 'utf8')) as CompareFile;
}

/** The weights reader over the run folders in `dir`. */
export function weightsIn(dir: string): WeightsOf {
  return (run) => runWeights(join(dir, run));
}

/** The toy's report in `dir`/toy/toy.json, or null when the toy has not run. */
export function readToy(dir: string): ToyReport | null {
  const path = join(dir, 'toy', 'toy.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ToyReport) : null;
}
