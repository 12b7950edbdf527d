/**
 * Reproduces the GradNorm paper's toy experiment (Chen et al. 2018, section 4, figure 2): trains the
 * same network from the same initialisation with equal weights and with GradNorm (alpha = 0.12 on
 * the trunk's last layer), for T = 2 tasks with sigma = (1, 100) and for T = 10 tasks, and prints
 * the normalised test loss sum_i L_i / L_i(0) and the weight trajectories.
 *
 *   npx tsx examples/gradnorm-toy/main.ts [--tasks 2|10|both] [--steps 3000] [--lr 1e-3] [--wlr 0.01] [--json FILE] [--out DIR]
 *
 * `--out DIR` writes toy.json, toy.md (the table) and SVG plots of the test loss and the weights
 * there (src/cli/results/toy.ts), which docs/results.md includes. `--seeds 0,1,2` repeats both
 * methods with other initialisations and training batches (the first seed is the printed, plotted run);
 * toy.json then holds every seed's last-quarter loss and final weights.
 */
import { parseArgs } from 'node:util';
import * as w from '../../src/index.js';
import { createBalancer } from '../../src/mtl/balance/index.js';
import { toySection, type ToyReport } from '../../src/cli/results/toy.js';
import { makeData, OUT, IN, taskMatrices, type ToyData } from './data.js';
import { ToyModel } from './model.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: 'both' },
    steps: { type: 'string', default: '3000' },
    batch: { type: 'string', default: '100' },
    lr: { type: 'string', default: '0.001' },
    wlr: { type: 'string', default: '0.025' },
    alpha: { type: 'string', default: '0.12' },
    json: { type: 'string' },
    out: { type: 'string' },
    seeds: { type: 'string', default: '0' },
  },
});
const steps = Number(values.steps);
const batch = Number(values.batch);
const lr = Number(values.lr);
const wlr = Number(values.wlr);
const alpha = Number(values.alpha);
for (const [k, v] of Object.entries({ steps, batch, lr, wlr, alpha })) {
  if (!(v > 0)) throw new Error(`--${k} must be a positive number, got ${String(v)}`);
}
const seeds = values.seeds.split(',').map(Number);
if (seeds.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--seeds must be non-negative integers, got ${values.seeds}`);
const taskCounts = values.tasks === 'both' ? [2, 10] : [Number(values.tasks)];
if (taskCounts.some((t) => !Number.isInteger(t) || t < 2)) throw new Error(`--tasks must be 2, 10, or both`);

/** The task scales: (1, 100) for two tasks (the paper's), log-spaced from 1 to 100 otherwise. */
function sigmasFor(T: number): number[] {
  return T === 2 ? [1, 100] : Array.from({ length: T }, (_, i) => 100 ** (i / (T - 1)));
}

function batchOf(d: ToyData, idx: readonly number[], names: readonly string[]): w.MultiTaskBatch {
  const x = new Float32Array(idx.length * IN);
  idx.forEach((s, r) => x.set(d.x.subarray(s * IN, (s + 1) * IN), r * IN));
  const targets: Record<string, w.TaskTarget> = {};
  names.forEach((n, i) => {
    const y = new Float32Array(idx.length * OUT);
    idx.forEach((s, r) => y.set(d.y[i]!.subarray(s * OUT, (s + 1) * OUT), r * OUT));
    targets[n] = { target: w.fromArray(y, [idx.length, OUT]) };
  });
  return { input: w.fromArray(x, [idx.length, IN]), targets };
}

/**
 * Training batches of fresh samples (as the public PyTorch reimplementation draws them; the paper
 * gives no data set size), so the test loss measures learning, not memorisation.
 */
function* batches(mats: readonly Float64Array[], sigmas: readonly number[], names: readonly string[], count: number, seed: number): Generator<w.MultiTaskBatch> {
  for (let k = 0; k < count; k++) {
    const d = makeData(mats, sigmas, batch, seed * 1_000_003 + k);
    yield batchOf(d, Array.from({ length: batch }, (_, i) => i), names);
  }
}

function* testBatches(d: ToyData, names: readonly string[]): Generator<w.MultiTaskBatch> {
  for (let s = 0; s < d.n; s += 500) yield batchOf(d, Array.from({ length: Math.min(500, d.n - s) }, (_, i) => s + i), names);
}

interface RunResult {
  method: string;
  /** Normalised test loss sum_i L_i / L_i(0) at each evaluation. */
  curve: { step: number; normalised: number; perTask: number[] }[];
  /** Weights at each evaluation. */
  weights: { step: number; w: number[] }[];
}

async function run(T: number, method: 'equal' | 'gradnorm', mats: readonly Float64Array[], sigmas: readonly number[], test: ToyData, seed = 0): Promise<RunResult> {
  const model = new ToyModel(T, 7 + seed); // same seed: the same initialisation for both methods
  const names = model.taskNames;
  const tasks = names.map((name) => w.regressionTask({ name, channels: OUT }));
  const balancer = method === 'equal' ? createBalancer({ method: 'equal' }, names) : createBalancer({ method: 'gradnorm', alpha, lr: wlr }, names);
  const optimizer = new w.Adam([...model.parameters(), ...balancer.parameters()], { lr });
  const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: 50 });
  const evalEvery = Math.max(1, Math.floor(steps / 20));
  const result: RunResult = { method, curve: [], weights: [] };
  let L0: number[] | null = null;
  const evaluate = async (step: number) => {
    const m = await trainer.evaluate(testBatches(test, names));
    const perTask = names.map((n) => m[n]!.mse!);
    L0 ??= perTask;
    result.curve.push({ step, normalised: perTask.reduce((a, l, i) => a + l / L0![i]!, 0), perTask });
  };
  await evaluate(0);
  let step = 0;
  for (const b of batches(mats, sigmas, names, steps, 99 + seed)) {
    try {
      await trainer.trainStep(b);
    } finally {
      w.disposeBatch(b);
    }
    step++;
    if (step % evalEvery === 0 || step === steps) {
      await trainer.drainLogs();
      const last = trainer.history[trainer.history.length - 1]!;
      result.weights.push({ step: last.step + 1, w: names.map((n) => last.weights[n]!) });
      await evaluate(step);
    }
  }
  trainer.dispose();
  balancer.dispose();
  model.dispose();
  return result;
}

const rt = await w.init();
console.log(`adapter: ${rt.adapterName}`);
const report: Record<string, unknown> = {};
for (const T of taskCounts) {
  const sigmas = sigmasFor(T);
  const mats = taskMatrices(T, 1234 + T);
  const test = makeData(mats, sigmas, 2000, 2);
  console.log(`\nT = ${T}, sigma = [${sigmas.map((s) => s.toPrecision(3)).join(', ')}], ${steps} steps, batch ${batch}, Adam lr ${lr}`);
  const t0 = performance.now();
  const eq = await run(T, 'equal', mats, sigmas, test, seeds[0]);
  const t1 = performance.now();
  const gn = await run(T, 'gradnorm', mats, sigmas, test, seeds[0]);
  const t2 = performance.now();
  console.log(`  step   normalised test loss (equal)   (gradnorm)   gradnorm weights`);
  gn.curve.forEach((c, k) => {
    const wts = k === 0 ? names0(T) : gn.weights[k - 1]!.w.map((v) => v.toFixed(3)).join(' ');
    console.log(`  ${String(c.step).padStart(5)}   ${eq.curve[k]!.normalised.toFixed(4).padStart(12)}   ${c.normalised.toFixed(4).padStart(12)}   ${wts}`);
  });
  const fe = eq.curve[eq.curve.length - 1]!;
  const fg = gn.curve[gn.curve.length - 1]!;
  const wFinal = gn.weights[gn.weights.length - 1]!.w;
  console.log(`  final: equal ${fe.normalised.toFixed(4)}, gradnorm ${fg.normalised.toFixed(4)} (${(((fg.normalised - fe.normalised) / fe.normalised) * 100).toFixed(1)}%)`);
  // One evaluation is noisy (one test set, Adam's last steps); the mean over the last quarter is steadier.
  const tail = (r: RunResult) => {
    const xs = r.curve.slice(Math.floor((r.curve.length * 3) / 4)).map((c) => c.normalised);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const [te, tg] = [tail(eq), tail(gn)];
  const below = gn.curve.filter((c, k) => k > 0 && c.normalised < eq.curve[k]!.normalised).length;
  console.log(`  last quarter mean: equal ${te.toFixed(4)}, gradnorm ${tg.toFixed(4)} (${(((tg - te) / te) * 100).toFixed(1)}%); gradnorm lower at ${below}/${gn.curve.length - 1} evaluations`);
  const perTask = (r: RunResult) => r.curve[r.curve.length - 1]!.perTask.map((l, i) => (l / r.curve[0]!.perTask[i]!).toFixed(3)).join(' ');
  console.log(`  final per-task ratios L_i/L_i(0): equal [${perTask(eq)}], gradnorm [${perTask(gn)}]`);
  console.log(`  final gradnorm weights: [${wFinal.map((v) => v.toFixed(3)).join(', ')}], sum ${wFinal.reduce((a, b) => a + b, 0).toFixed(4)} (T = ${T})`);
  console.log(`  time: equal ${((t1 - t0) / 1000).toFixed(1)} s, gradnorm ${((t2 - t1) / 1000).toFixed(1)} s (${(((t2 - t1) / (t1 - t0) - 1) * 100).toFixed(0)}% more, including evaluation)`);
  const bySeed = { equal: [te], gradnorm: [tg], finalWeights: [wFinal] };
  let seconds = (t2 - t0) / 1000;
  for (const seed of seeds.slice(1)) {
    const t3 = performance.now();
    const [e, g] = [await run(T, 'equal', mats, sigmas, test, seed), await run(T, 'gradnorm', mats, sigmas, test, seed)];
    seconds += (performance.now() - t3) / 1000;
    bySeed.equal.push(tail(e));
    bySeed.gradnorm.push(tail(g));
    bySeed.finalWeights.push(g.weights[g.weights.length - 1]!.w);
    console.log(`  seed ${seed}: last quarter mean equal ${tail(e).toFixed(4)}, gradnorm ${tail(g).toFixed(4)}; final weights [${bySeed.finalWeights.at(-1)!.map((v) => v.toFixed(3)).join(', ')}]`);
  }
  report[`T${T}`] = { sigmas, equal: eq, gradnorm: gn, seconds: { equal: (t1 - t0) / 1000, gradnorm: seconds - (t1 - t0) / 1000 }, seeds, tails: bySeed };
}
const full = { adapter: rt.adapterName, steps, batch, lr, wlr, alpha, ...report };
if (values.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(values.json, JSON.stringify(full, null, 1));
}
if (values.out) {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  mkdirSync(values.out, { recursive: true });
  const { markdown, svgs } = toySection(full as unknown as ToyReport);
  for (const [name, text] of Object.entries(svgs)) writeFileSync(join(values.out, name), text);
  writeFileSync(join(values.out, 'toy.md'), markdown);
  writeFileSync(join(values.out, 'toy.json'), JSON.stringify(full));
  console.log(`\nwritten to ${values.out} (toy.json, toy.md, ${Object.keys(svgs).length} plots)`);
}
w.shutdown();

function names0(T: number): string {
  return Array(T).fill('1.000').join(' ');
}
