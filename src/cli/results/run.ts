/**
 * `npm run results -- --budget tiny|full [--jobs N] [--seeds 0,1,2] [--out DIR] [--page FILE]`:
 * the whole grid of docs/results.md, resumable. It runs `webmtl compare` for the architectures
 * (equal weights), then for the balancers on the shared encoder and on the best architecture, all
 * in one folder (runs/results-<budget>, so the runs the tables share train once and a killed grid
 * continues), then the GradNorm toy (examples/gradnorm-toy/, skipped when its output is there), and
 * writes the page and its plots (page.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { shutdown } from '../../tensor/context.js';
import { meanStd } from '../compare.js';
import { compareCommand } from '../compare.js';
import { BUDGETS } from './budgets.js';
import { readCompareFile, readToy, weightsIn } from './grid-files.js';
import { resultsPage } from './page.js';
import { toyCases } from './toy.js';

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: 'tiny' },
    jobs: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    out: { type: 'string' },
    page: { type: 'string', default: 'docs/results.md' },
  },
});
const budget = BUDGETS[values.budget!];
if (!budget) throw new Error(`--budget: '${values.budget}' is not one of ${Object.keys(BUDGETS).join(', ')}`);
const seeds = values.seeds ?? budget.seeds.join(',');
const out = values.out ?? join('runs', `results-${budget.name}`);
const command = `npm run results -- --budget ${budget.name}${values.seeds ? ` --seeds ${seeds}` : ''}`;
const compare = (table: string, models: string[], balancers: string[]) =>
  compareCommand({ preset: budget.preset, set: budget.set, models: models.join(','), balancers: balancers.join(','), seeds, out, progress: false, jobs: values.jobs, table, commandLine: `${command} (${table})` });

await compare('architectures', budget.models, ['equal']);
const arch = readCompareFile(out, 'architectures');
const bestArch = [...arch.rows].sort((a, b) => meanStd(b.delta)[0] - meanStd(a.delta)[0])[0]!.model;
const tables = ['shared-encoder', ...(bestArch === 'shared-encoder' ? [] : [bestArch])];
// MGDA-UB's default works on the shared representation; models without one (their tasks read the
// encoder through several maps) run it on the shared parameters instead.
const NO_REPRESENTATION = ['cross-stitch', 'nddr', 'mtan', 'mti-net'];
const balancersFor = (m: string) => budget.balancers.map((b) => (b === 'mgda' && NO_REPRESENTATION.includes(m.split(':')[0]!) ? 'mgda:mode=parameters' : b));
// A balancer table that fails (a run that cannot train) is named on the page, not hidden; the
// other sections are still written, and the next call retries it (its finished runs are kept).
const failed: string[] = [];
for (const m of tables) {
  try {
    await compare(`balancers-${m}`, [m], balancersFor(m));
  } catch (e) {
    if (m === 'shared-encoder') throw e;
    failed.push(`the balancer table on ${m} did not finish: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    process.stderr.write(`results: ${failed.at(-1)}\n`);
  }
}
shutdown();

const toyDir = join(out, 'toy');
const toy = readToy(out);
const toySeeds = seeds.split(',').map(Number);
if (!toy || toy.steps !== budget.toySteps || JSON.stringify(toyCases(toy)[0]?.[1].seeds ?? [0]) !== JSON.stringify(toySeeds)) {
  process.stdout.write(`GradNorm toy, ${budget.toySteps} steps, into ${toyDir}\n`);
  const r = spawnSync(process.execPath, [...process.execArgv, 'examples/gradnorm-toy/main.ts', '--steps', String(budget.toySteps), '--seeds', seeds, '--out', toyDir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`the GradNorm toy failed (exit ${r.status ?? r.signal})`);
}

const page = resultsPage({
  command,
  budget: { name: budget.name, description: `${budget.description}${bestArch === 'shared-encoder' ? '' : ` (best architecture by mean ΔMTL: ${bestArch})`}` },
  banner: budget.banner,
  architectures: arch,
  balancers: tables.filter((m) => !failed.some((f) => f.includes(` on ${m} `))).map((m) => readCompareFile(out, `balancers-${m}`)),
  failures: failed,
  weightsOf: weightsIn(out),
  toy: readToy(out),
  imageDir: 'results',
});
const pageDir = dirname(values.page!);
for (const [rel, text] of Object.entries(page.files)) {
  mkdirSync(dirname(join(pageDir, rel)), { recursive: true });
  writeFileSync(join(pageDir, rel), text);
}
writeFileSync(values.page!, page.markdown);
process.stdout.write(`written ${values.page} and ${Object.keys(page.files).length} plots under ${relative('.', join(pageDir, 'results'))}\n`);
