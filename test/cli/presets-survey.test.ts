// The survey's setups as presets: each is a valid configuration with the survey's settings
// (resolution, batch, optimiser, schedule, loss weights, epochs, architecture and backbone), and
// each builds its model and takes one training step (fixed loss weights, deep supervision, the
// preset's optimiser) after `--set` overrides shrink it to width 0.125 and 32x32 random samples.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { buildTasks } from '../../src/cli/build.js';
import { applyOverrides, parseConfig, type RunConfig } from '../../src/cli/config.js';
import { PRESETS, listPresets, preset } from '../../src/cli/presets.js';
import { SURVEY_PRESETS } from '../../src/cli/presets-survey.js';
import { collate } from '../../src/data/batch.js';
import type { DatasetInfo, Sample } from '../../src/data/sample.js';
import { createBalancer } from '../../src/mtl/balance/index.js';
import { createModel, type ModelSpec } from '../../src/mtl/models/index.js';
import { Trainer } from '../../src/mtl/trainer.js';
import { devices } from '../helpers/devices.js';

const NAMES = Object.keys(SURVEY_PRESETS);

const INFO: Record<string, DatasetInfo> = {
  nyud: { name: 'nyud', tasks: ['semseg', 'depth'], numClasses: 40, mean: [0, 0, 0], std: [1, 1, 1] },
  'pascal-context': { name: 'pascal-context', tasks: ['semseg', 'human_parts', 'sal', 'normals', 'edge'], numClasses: 21, numParts: 6, mean: [0, 0, 0], std: [1, 1, 1] },
};

/** A random sample of size s x s carrying every task of `info` (labels in range, unit normals). */
function randomSample(info: DatasetInfo, s: number, seed: number): Sample {
  const g = new w.Generator(seed);
  const n = s * s;
  const ints = (k: number) => Int32Array.from(g.uniform(n, 0, k), (v) => Math.min(k - 1, Math.floor(v)));
  const bits = () => Float32Array.from(g.uniform(n, 0, 1), (v) => (v > 0.7 ? 1 : 0));
  const normals = new Float32Array(3 * n).fill(0);
  normals.fill(1, 2 * n); // (0, 0, 1) everywhere
  return {
    height: s,
    width: s,
    image: g.normal(3 * n, 0, 1),
    semseg: ints(info.numClasses!),
    depth: g.uniform(n, 0.5, 5),
    normals,
    edge: bits(),
    sal: bits(),
    human_parts: ints(info.numParts! + 1),
    id: `random-${seed}`,
  };
}

describe('survey presets: settings', () => {
  it('are listed and valid; data.root is a --set away', () => {
    for (const n of NAMES) {
      expect(PRESETS[n], n).toBeDefined();
      expect(listPresets()).toContain(`  ${n} `);
      const cfg = parseConfig(applyOverrides(preset(n), ['data.root="/data/x"']));
      expect(cfg.name).toBe(n);
      expect((cfg.data as { root: string }).root).toBe('/data/x');
    }
    expect(NAMES).toEqual(
      expect.arrayContaining(['nyud-resnet50-shared', 'nyud-hrnet18-mtinet', 'pascal-hrnet18-mtinet', 'pascal-hrnet18-padnet', 'nyud-hrnet18-padnet']),
    );
  });

  it.each(NAMES)("%s has the survey's resolution, batch, optimiser, schedule, weights and epochs", (n) => {
    const cfg = parseConfig(preset(n));
    const nyud = n.startsWith('nyud');
    const sgd = /cross-stitch|nddr/.test(n);
    expect(cfg.data).toMatchObject(nyud ? { kind: 'nyud', size: [480, 640] } : { kind: 'pascal-context', size: 512 });
    expect(cfg.tasks).toEqual(nyud ? ['semseg', 'depth'] : ['semseg', 'human_parts', 'sal', 'normals', 'edge']);
    expect(cfg.taskWeights).toEqual(nyud ? { semseg: 1, depth: 1 } : { semseg: 1, human_parts: 2, sal: 5, normals: 10, edge: 50 });
    expect(cfg.train).toMatchObject({ batchSize: 8, epochs: sgd ? 50 : 100 });
    expect(cfg.optimizer).toMatchObject(sgd ? { kind: 'sgd', lr: 0.001, momentum: 0.9, weightDecay: 0.0001 } : { kind: 'adam', lr: 0.0001, weightDecay: 0.0001 });
    expect(cfg.schedule).toEqual({ kind: 'poly', warmupSteps: 0 });
    expect(cfg.balancer).toEqual({ method: 'fixed' });
    const m = cfg.model as Record<string, unknown>;
    if (n.includes('resnet50')) expect(m).toMatchObject({ backbone: 'resnet50', outputStride: 8, head: 'aspp', width: 1 });
    else expect(m).toMatchObject({ backbone: 'hrnet18', width: 1 });
    const arch = { shared: 'shared-encoder', mtan: 'mtan', 'cross-stitch': 'cross-stitch', nddr: 'nddr', padnet: 'pad-net', mtinet: 'mti-net' }[n.split('-').slice(2).join('-')];
    expect(m.arch).toBe(arch);
  });
});

describe.each(devices())('survey presets: one training step at width 0.125, 32x32, on %s', () => {
  it.each(NAMES)('%s builds and steps', async (n) => {
    const cfg: RunConfig = parseConfig(applyOverrides(preset(n), ['model.width=0.125', 'data.size=32', 'train.batchSize=2']));
    const info = INFO[cfg.data.kind]!;
    const tasks = buildTasks(cfg, info);
    expect(tasks.map((t) => t.weight)).toEqual(cfg.tasks.map((t) => cfg.taskWeights[t] ?? 1));
    const model = createModel({ seed: cfg.seed, ...cfg.model } as unknown as ModelSpec, tasks);
    const balancer = createBalancer({ method: 'fixed', weights: tasks.map((t) => t.weight) }, tasks.map((t) => t.name));
    const o = cfg.optimizer;
    const optimizer = o.kind === 'sgd' ? new w.SGD(model.parameters(), { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay }) : new w.Adam(model.parameters(), { lr: o.lr, weightDecay: o.weightDecay });
    const trainer = new Trainer({ model, tasks, balancer, optimizer, logEvery: 1 });
    const size = cfg.data.size as number;
    const batch = collate([randomSample(info, size, 1), randomSample(info, size, 2)], cfg.tasks);
    const lastShared = model.lastSharedLayer();
    const before = lastShared ? Float32Array.from(await lastShared.data()) : null;
    await trainer.trainStep(batch);
    await trainer.drainLogs();
    expect(trainer.history.length).toBe(1);
    const { losses, weights } = trainer.history[0]!;
    expect(Object.keys(losses)).toEqual(cfg.tasks);
    for (const t of cfg.tasks) expect(Number.isFinite(losses[t]) && losses[t]! > 0, t).toBe(true);
    expect(weights).toEqual(Object.fromEntries(cfg.tasks.map((t) => [t, cfg.taskWeights[t]])));
    if (lastShared && before) {
      const after = await lastShared.data();
      expect(after.every(Number.isFinite)).toBe(true);
      expect(after.some((v, i) => v !== before[i]), 'the shared layer moved').toBe(true);
    }
    w.disposeBatch(batch);
    model.dispose();
  });
});
