// Shared by the run-folder fault tests: a small smoke configuration, reading metrics.jsonl, the
// records compared across runs (times left out: they differ between any two runs) and a check that
// an error is one clear line.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { applyOverrides, parseConfig, type RunConfig } from '../../src/cli/config.js';
import { preset } from '../../src/cli/presets.js';
import { trainRun, type TrainRunOptions, type TrainRunResult } from '../../src/cli/train.js';

/** The smoke preset with DWA (which uses the epoch means), 3 epochs of 2 steps, plus `sets`. */
export function smokeConfig(...sets: string[]): RunConfig {
  return parseConfig(applyOverrides(preset('smoke'), ['balancer={"method":"dwa"}', 'train.epochs=3', 'train.reportSamples=0', ...sets]));
}

/** One metrics.jsonl record as the tests see it. */
export interface Rec {
  type: string;
  step?: number;
  epoch?: number;
  time?: number;
  seconds?: number;
  [k: string]: unknown;
}

/** Every line of DIR/metrics.jsonl, parsed (a line that is not JSON fails the test). */
export function records(dir: string): Rec[] {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (text) expect(text.endsWith('\n'), 'metrics.jsonl ends with a whole line').toBe(true);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      try {
        return JSON.parse(l) as Rec;
      } catch {
        throw new Error(`metrics.jsonl:${i + 1} is not JSON: ${l.slice(0, 80)}`);
      }
    });
}

/** The records without their times, rounded to 6 significant digits (what runs must agree on). */
export function comparable(recs: readonly Rec[]): unknown[] {
  const round = (v: unknown): unknown =>
    typeof v === 'number' ? Number(v.toPrecision(6)) : Array.isArray(v) ? v.map(round) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)])) : v;
  return recs.map(({ time: _t, seconds: _s, ...rest }) => round(rest));
}

/** trainRun without progress output; the messages it prints are collected in `said`. */
export async function run(opts: TrainRunOptions & { said?: string[] }): Promise<TrainRunResult> {
  const said = opts.said ?? [];
  return trainRun({ progress: false, log: (m) => said.push(m), ...opts });
}

/** The error `p` rejects with (fails the test when it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => null,
    (x: unknown) => x as Error,
  );
  expect(e, 'expected an error').not.toBeNull();
  return e!;
}

/** Asserts that `e` is one of webmtl's errors (the CLI prints its message alone) on one line, matching `re`. */
export function oneLine(e: Error, re: RegExp): void {
  expect(isWebmtl(e), `not a WebmtlError (the CLI would print its stack): ${e.stack}`).toBe(true);
  expect(e.message, 'one line').not.toMatch(/\n/);
  expect(e.message).toMatch(re);
}

function isWebmtl(e: Error): boolean {
  for (let p = Object.getPrototypeOf(e); p; p = Object.getPrototypeOf(p)) if (p.constructor?.name === 'WebmtlError') return true;
  return false;
}
