/**
 * `npm run results -- --budget tiny|standard|full [--jobs N] [--seeds 0,1,2] [--out DIR] [--page FILE] [--page-only]`:
 * the whole grid of docs/results.md, resumable. It runs `webmtl compare` for the architectures
 * (equal weights), then for the balancers on the shared encoder, all in one folder
 * (runs/results-<budget>, so the runs the tables share train once and a killed grid continues),
 * then the GradNorm toy (examples/gradnorm-toy/, skipped when its output is there), the budget's
 * deficit-investigation runs, and last the balancers on the best architecture (the part a budget
 * trims first), and writes the page and its plots (page.ts), with section 6's hand-written notes
 * from docs/results/investigation.md when that file exists. `--page-only` trains nothing and writes
 * the page from the tables that finished, naming the ones that did not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { shutdown } from '../../tensor/context.js';
import { meanStd } from '../compare.js';
import { compareCommand } from '../compare.js';
import { BUDGETS } from './budgets.js';
import { readCompareFile, readToy, recordsIn, weightsIn, type CompareFile } from './grid-files.js';
import { resultsPage } from './page.js';
import { toyCases } from './toy.js';

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: 'tiny' },
    jobs: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    out: { type: 'string' },
    page: { type: 'string', default: 'docs/results.md' },
    // Writes the page from the tables already in the grid folder, training nothing (a grid stopped
    // for time: the page names every table that is missing).
    'page-only': { type: 'boolean', default: false },
  },
});
const budget = BUDGETS[values.budget!];
if (!budget) throw new Error(`--budget: '${values.budget}' is not one of ${Object.keys(BUDGETS).join(', ')}`);
const seeds = values.seeds ?? budget.seeds.join(',');
const out = values.out ?? join('runs', `results-${budget.name}`);
const command = `npm run results -- --budget ${budget.name}${values.seeds ? ` --seeds ${seeds}` : ''}`;
const pageOnly = values['page-only']!;
const failed: string[] = [];
/** Runs one compare step (unless --page-only); a failure of a step that may fail is named on the page. */
async function step(table: string, models: string[], balancers: string[], opts: { mayFail: boolean; dir?: string; set?: string[] } = { mayFail: true }): Promise<void> {
  if (pageOnly) return;
  try {
    await compareCommand({ preset: budget!.preset, set: opts.set ?? budget!.set, models: models.join(','), balancers: balancers.join(','), seeds, out: opts.dir ?? out, progress: false, jobs: values.jobs, table, commandLine: `${command} (${table})` });
  } catch (e) {
    if (!opts.mayFail) throw e;
    failed.push(`the table '${table}' did not finish: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    process.stderr.write(`results: ${failed.at(-1)}\n`);
  }
}
/** A table the grid wrote, or undefined (named on the page) when it is not there. */
function tryRead(dir: string, table: string): CompareFile | undefined {
  if (existsSync(join(dir, `${table}.json`))) return readCompareFile(dir, table);
  if (pageOnly) failed.push(`the table '${table}' has not finished (the page was written from the runs that had)`);
  return undefined;
}

await step('architectures', budget.models, ['equal'], { mayFail: false });
const arch = readCompareFile(out, 'architectures');
const bestArch = [...arch.rows].sort((a, b) => meanStd(b.delta)[0] - meanStd(a.delta)[0])[0]!.model;
const tables = ['shared-encoder', ...(bestArch === 'shared-encoder' ? [] : [bestArch])];
// MGDA-UB's default works on the shared representation; models without one (their tasks read the
// encoder through several maps) run it on the shared parameters instead.
const NO_REPRESENTATION = ['cross-stitch', 'nddr', 'mtan', 'mti-net'];
const balancersFor = (m: string) => (m === 'shared-encoder' ? budget.balancers : (budget.bestBalancers ?? budget.balancers)).map((b) => (b === 'mgda' && NO_REPRESENTATION.includes(m.split(':')[0]!) ? 'mgda:mode=parameters' : b));
// The shared encoder's balancer table first: the claims read it.
await step('balancers-shared-encoder', ['shared-encoder'], balancersFor('shared-encoder'));
const toyDir = join(out, 'toy');
const toyFound = readToy(out);
const toySeeds = seeds.split(',').map(Number);
if (!pageOnly && (!toyFound || toyFound.steps !== budget.toySteps || JSON.stringify(toyCases(toyFound)[0]?.[1].seeds ?? [0]) !== JSON.stringify(toySeeds))) {
  process.stdout.write(`GradNorm toy, ${budget.toySteps} steps, into ${toyDir}\n`);
  const r = spawnSync(process.execPath, [...process.execArgv, 'examples/gradnorm-toy/main.ts', '--steps', String(budget.toySteps), '--seeds', seeds, '--out', toyDir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`the GradNorm toy failed (exit ${r.status ?? r.signal})`);
}

// The deficit investigation's extra runs (section 6).
const inv = budget.investigation;
const longerDir = join(out, 'longer');
const longerSet = inv ? [...budget.set.filter((x) => !x.startsWith('train.epochs=')), `train.epochs=${inv.longerEpochs}`] : [];
if (inv) {
  await step('investigation-capacity', inv.capacity, ['equal']);
  await step('investigation-longer', ['shared-encoder'], ['equal'], { mayFail: true, dir: longerDir, set: longerSet });
}
// The balancer table on the best architecture comes last: the budget's trimmed extra. A table that
// fails (a run that cannot train) is named on the page, not hidden; the other sections are still
// written, and the next call retries it (its finished runs are kept).
if (bestArch !== 'shared-encoder') await step(`balancers-${bestArch}`, [bestArch], balancersFor(bestArch));
shutdown();
// The hand-written reading of section 6's numbers, kept next to the page's plots.
const notesPath = join(dirname(values.page!), 'results', 'investigation.md');
const page = resultsPage({
  command,
  budget: { name: budget.name, description: `${budget.description}${bestArch === 'shared-encoder' ? '' : ` (best architecture by mean ΔMTL: ${bestArch})`}` },
  banner: budget.banner,
  architectures: arch,
  balancers: tables.map((m) => tryRead(out, `balancers-${m}`)).filter((f) => f !== undefined),
  failures: failed,
  omitted: budget.omitted,
  investigation: {
    best: bestArch,
    recordsOf: recordsIn(out),
    capacity: tryRead(out, 'investigation-capacity'),
    longer: tryRead(longerDir, 'investigation-longer'),
    longerEpochs: inv?.longerEpochs,
    notes: existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : undefined,
  },
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
