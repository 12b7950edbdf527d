/**
 * `webmtl tune`: the one-off autotune for a configuration on this adapter. It runs one training step
 * and one evaluation batch of the configuration with an empty tuning table, so the table records every
 * product and convolution pass they use, times every kernel variant of each (src/ops/autotune.ts) and
 * stores the winners for the adapter (src/gpu/tuning.ts), where every later run on it finds them.
 */
import { toDevice } from '../data/batch.js';
import { DataLoader } from '../data/loader.js';
import { TuningTable, loadTuning, saveTuning, tuningLocation } from '../gpu/tuning.js';
import { disposeBatch } from '../mtl/task.js';
import { Trainer } from '../mtl/trainer.js';
import { autotune, type AutotuneOptions, type AutotuneResult } from '../ops/autotune.js';
import { WebmtlError } from '../errors.js';
import { init, runtime } from '../tensor/context.js';
import { buildRun } from './build.js';
import type { RunConfig } from './config.js';
import { resolveConfig } from './resolve-config.js';

/** Options of `webmtl tune`. */
export interface TuneCommandOptions {
  preset?: string;
  config?: string;
  set?: string[];
  /** Re-measure shapes that already have an entry. */
  retune?: boolean;
  /** Print the stored table and exit. */
  list?: boolean;
  /** Delete the stored table (before tuning, or alone with --list). */
  clear?: boolean;
  /** Timed rounds per candidate. */
  rounds?: string;
  /** Replaces the wall-clock timing (tests inject fixed timings; never set by the command line). */
  measure?: AutotuneOptions['measure'];
}

const out = (s: string) => process.stdout.write(`${s}\n`);

/** One line of the results: the shape, the rule's kernel -> the tuned one, and every candidate's time. */
export function formatResult(r: AutotuneResult): string {
  const times = Object.entries(r.ms)
    .map(([v, ms]) => `${v} ${ms.toFixed(2)}`)
    .join(', ');
  const gain = r.variant === r.rule ? 'same as rule' : `${(r.ms[r.rule]! / r.ms[r.variant]!).toFixed(2)}x over ${r.rule}`;
  return `${r.key}: ${r.variant} (${gain}; ms ${times})`;
}

/** The `webmtl tune` action. The runtime's own table is left as it was (the stored one changes). */
export async function tuneCommand(opts: TuneCommandOptions): Promise<void> {
  const rt = await init();
  const adapter = rt.tuning.adapter;
  const where = await tuningLocation(adapter);
  if (opts.clear) {
    await saveTuning(new TuningTable(adapter));
    out(`webmtl tune: cleared the table of ${rt.adapterName} (${where})`);
    if (!opts.list) return;
  }
  if (opts.list) {
    const t = await loadTuning(adapter);
    out(`webmtl tune: ${t.size} tuned shapes for ${rt.adapterName} (${where})`);
    for (const [key, e] of t.list()) out(`${key}: ${e.variant} (ms ${Object.entries(e.ms).map(([v, ms]) => `${v} ${ms.toFixed(2)}`).join(', ')})`);
    return;
  }
  const rounds = opts.rounds === undefined ? 5 : Number(opts.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new WebmtlError(`--rounds must be a positive integer, not '${opts.rounds}'`);
  const cfg = resolveConfig(opts);
  const own = rt.tuning;
  try {
    const seen = await recordShapes(cfg);
    const stored = await loadTuning(adapter);
    rt.tuning = stored;
    const todo = opts.retune ? seen : seen.filter((k) => !stored.get(k));
    out(`webmtl tune: ${seen.length} shapes in one step of ${cfg.name}, ${todo.length} to measure on ${rt.adapterName}`);
    const t0 = performance.now();
    const results = await autotune({ keys: todo, retune: true, rounds, measure: opts.measure, onResult: (r, i, n) => out(`[${i}/${n}] ${formatResult(r)}`) });
    const changed = results.filter((r) => r.variant !== r.rule);
    const path = await saveTuning(stored);
    out(
      `webmtl tune: ${results.length} shapes measured in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `${changed.length} of them faster with another kernel than the shape rules' choice; ${stored.size} entries stored in ${path}`,
    );
  } finally {
    rt.tuning = own;
  }
}

/**
 * The tuning keys of one training step and one evaluation batch of `cfg`: run with an empty table,
 * every product and convolution pass they use is a miss.
 */
async function recordShapes(cfg: RunConfig): Promise<string[]> {
  const rt = runtime();
  rt.tuning = new TuningTable(rt.tuning.adapter);
  const { data, tasks, model, balancer, optimizer, scheduler } = await buildRun(cfg);
  try {
    const trainer = new Trainer({ model, tasks, balancer, optimizer, scheduler, logEvery: 1_000_000 });
    const loaderOpts = { batchSize: cfg.train.batchSize, seed: cfg.seed, tasks: cfg.tasks, prefetch: 0 };
    for (const [ds, train] of [[data.train, true], [data.val, false]] as const) {
      const loader = new DataLoader(ds, { ...loaderOpts, shuffle: false, dropLast: train });
      for await (const h of loader.hostBatches(0)) {
        const batch = toDevice(h);
        try {
          if (train) await trainer.trainStep(batch);
          else await trainer.evaluate([batch]);
        } finally {
          disposeBatch(batch);
        }
        break;
      }
    }
    await rt.sync();
  } finally {
    model.dispose();
    (optimizer as { dispose?: () => void }).dispose?.();
    (balancer as { dispose?: () => void }).dispose?.();
  }
  return [...rt.tuning.misses.keys()];
}
