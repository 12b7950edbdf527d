/**
 * The autotune on the demo training step: one step with an empty tuning table records the products
 * and convolution passes it runs, `autotune()` times every variant of each, and then the step is timed
 * with the shape rules and with the tuned table, interleaved in one process. Also runnable alone
 * (`npx tsx bench/autotune.ts`), which prints every tuned key.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as w from '../src/index.js';
import { autotune, type AutotuneResult } from '../src/ops/autotune.js';
import { TuningTable } from '../src/gpu/tuning.js';
import { buildDemoStep } from './train-step.js';
import { median, type BenchRow } from './timing.js';

/** The demo step's tuned keys and its step time with the rules and with the tuned table. */
export interface AutotuneBench {
  results: AutotuneResult[];
  tuneSeconds: number;
  ruleMs: number;
  tunedMs: number;
  load: number[];
}

/** Tunes the demo GradNorm step from scratch and times it both ways (`rounds` interleaved rounds). */
export async function runAutotuneBench(rounds = 9): Promise<AutotuneBench> {
  const rt = w.runtime();
  const saved = rt.tuning;
  const rules = new TuningTable(saved.adapter);
  const tuned = new TuningTable(saved.adapter);
  const step = await buildDemoStep('gradnorm');
  try {
    rt.tuning = tuned;
    await step.trainer.trainStep(step.batch);
    await rt.sync();
    const t0 = performance.now();
    const results = await autotune();
    const tuneSeconds = (performance.now() - t0) / 1000;
    const times: Record<'rules' | 'tuned', number[]> = { rules: [], tuned: [] };
    for (let r = -1; r < rounds; r++) {
      for (const [name, table] of [['rules', rules], ['tuned', tuned]] as const) {
        rt.tuning = table;
        const s = performance.now();
        await step.trainer.trainStep(step.batch);
        await rt.sync();
        if (r >= 0) times[name].push(performance.now() - s);
      }
    }
    return { results, tuneSeconds, ruleMs: median(times.rules), tunedMs: median(times.tuned), load: loadavg() };
  } finally {
    rt.tuning = saved;
    step.dispose();
  }
}

/** One line per tuned key: rule -> choice and every candidate's median. */
export function tunedTable(results: readonly AutotuneResult[]): string {
  return results
    .map((r) => {
      const cands = Object.entries(r.ms)
        .map(([v, ms]) => `${v} ${ms.toFixed(2)}`)
        .join(', ');
      const gain = r.variant === r.rule ? '' : `  (${(r.ms[r.rule]! / r.ms[r.variant]!).toFixed(2)}x)`;
      return `${r.key}: ${r.rule} -> ${r.variant}${gain}  [ms: ${cands}]`;
    })
    .join('\n');
}

/** Bench rows: the demo GradNorm step with the rules and with the tuned table. */
export async function benchAutotune(): Promise<BenchRow[]> {
  const b = await runAutotuneBench();
  const changed = b.results.filter((r) => r.variant !== r.rule).length;
  const note = `${b.results.length} keys tuned in ${b.tuneSeconds.toFixed(1)} s, ${changed} changed from the rule; load ${b.load.map((x) => x.toFixed(1)).join('/')}`;
  return [
    { op: 'autotune', shape: 'demo gradnorm step, shape rules', ms: b.ruleMs, value: 8000 / b.ruleMs, unit: 'images/s' },
    {
      op: 'autotune',
      shape: 'demo gradnorm step, tuned',
      ms: b.tunedMs,
      value: 8000 / b.tunedMs,
      unit: 'images/s',
      note,
      peer: 'the same step with the shape rules',
      peerMs: b.ruleMs,
      ratio: b.ruleMs / b.tunedMs,
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rt = await w.init();
  const b = await runAutotuneBench();
  console.log(`adapter: ${rt.adapterName}`);
  console.log(tunedTable(b.results));
  console.log(
    `tuned ${b.results.length} keys in ${b.tuneSeconds.toFixed(1)} s; demo gradnorm step: rules ${b.ruleMs.toFixed(1)} ms, tuned ${b.tunedMs.toFixed(1)} ms ` +
      `(${(b.ruleMs / b.tunedMs).toFixed(3)}x); load ${b.load.map((x) => x.toFixed(1)).join('/')}`,
  );
  w.shutdown();
}
