/**
 * Training-step cost of each loss balancer on a small shared-encoder conv net: encoder
 * 3 x (Conv2d 3x3 + BatchNorm2d + ReLU), 3 -> 16 -> 32 -> 32 channels, and three heads
 * (Conv2d 3x3 32 -> 16, ReLU, Conv2d 1x1 -> 1 / 3 / 5 channels) with MSE losses on random targets;
 * input 8x3x32x32; SGD with momentum. One step = forward, the balancer's backward, optimiser step.
 * The balancers are timed round-robin (timeInterleaved) so load hits them alike; the row's note
 * gives the overhead over equal weights and the dispatches per step.
 */
import * as w from '../src/index.js';
import { createBalancer, type BalancerSpec } from '../src/mtl/balance/index.js';
import { timeInterleaved, type BenchRow } from './timing.js';

const SPECS: Record<string, BalancerSpec> = {
  equal: { method: 'equal' },
  uncertainty: { method: 'uncertainty' },
  dwa: { method: 'dwa' },
  gradnorm: { method: 'gradnorm' },
  pcgrad: { method: 'pcgrad' },
  'pcgrad (z)': { method: 'pcgrad', mode: 'representation' },
  'mgda-ub': { method: 'mgda' },
  cagrad: { method: 'cagrad' },
};

function block(cin: number, cout: number, g: w.Generator): w.Layer[] {
  return [new w.Conv2d(cin, cout, 3, { padding: 1, generator: g }), new w.BatchNorm2d(cout), new w.ReLU()];
}

/** Times one training step with each balancer; returns one row per balancer. */
export async function benchBalancers(batch = 8, size = 32): Promise<BenchRow[]> {
  const rt = w.runtime();
  const g = new w.Generator(3);
  const encoder = new w.Sequential(...block(3, 16, g), ...block(16, 32, g), ...block(32, 32, g));
  const lastConv = encoder.layers[6] as w.Conv2d;
  const channels = { depth: 1, normals: 3, seg: 5 };
  const tasks = Object.keys(channels);
  const heads = Object.values(channels).map(
    (c) => new w.Sequential(new w.Conv2d(32, 16, 3, { padding: 1, generator: g }), new w.ReLU(), new w.Conv2d(16, c, 1, { generator: g })),
  );
  const shared = encoder.parameters();
  const all = [...shared, ...heads.flatMap((h) => h.parameters())];
  const x = w.keep(w.randn([batch, 3, size, size], { seed: 4 }));
  const targets = Object.values(channels).map((c, i) => w.keep(w.randn([batch, c, size, size], { seed: 10 + i })));
  const runs: Record<string, () => Promise<void>> = {};
  const made: { dispose(): void }[] = [];
  const dispatches: Record<string, number> = {};
  for (const [name, spec] of Object.entries(SPECS)) {
    const bal = createBalancer(spec, tasks);
    const opt = new w.SGD([...all, ...bal.parameters()], { lr: 1e-3, momentum: 0.9 });
    made.push(bal, opt);
    let k = 0;
    const step = () =>
      w.tidy(() => {
        opt.zeroGrad();
        const z = encoder.forward(x);
        const losses = Object.fromEntries(tasks.map((t, i) => [t, w.mseLoss(heads[i]!.forward(z), targets[i]!)]));
        bal.backward({ tasks, losses, sharedParameters: shared, parameters: all, lastSharedLayer: lastConv.weight, representation: z, step: k, epoch: 0 });
        opt.step();
        k++;
      });
    runs[name] = async () => {
      step();
      await rt.sync();
    };
    await runs[name]!();
    const d0 = rt.dispatchCount;
    await runs[name]!();
    dispatches[name] = rt.dispatchCount - d0;
  }
  const ms = await timeInterleaved(runs, { warmup: 1, runs: 9 });
  for (const m of made) m.dispose();
  for (const t of [x, ...targets]) t.dispose();
  encoder.dispose();
  for (const h of heads) h.dispose();
  return Object.keys(SPECS).map((name) => ({
    op: `balancer ${name}`,
    shape: `${batch}x3x${size}x${size}, 3 tasks`,
    ms: ms[name]!,
    value: (batch * 1000) / ms[name]!,
    unit: 'images/s' as const,
    note: `${name === 'equal' ? 'baseline' : `${(((ms[name]! - ms.equal!) / ms.equal!) * 100).toFixed(1)}% over equal`}, ${dispatches[name]} dispatches/step`,
  }));
}
