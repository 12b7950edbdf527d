// The way out to scale and back: a smoke run exported to PyTorch trains for 5 steps under
// `torchrun --nproc_per_node 2` (gloo, CPU) with GradNorm; its loss falls, both ranks end with
// identical parameters and balancer weights, and the run folder it writes loads back into webmtl:
// `webmtl eval` on it, its checkpoint restored into a Trainer (weights equal rank 0's), and
// `webmtl train --resume` continuing it by a step; and `webmtl export --to onnx` of the same run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as w from '../../src/index.js';
import { buildRun } from '../../src/cli/build.js';
import { evaluateRun, readRunConfig } from '../../src/cli/eval.js';
import { exportRun } from '../../src/cli/export.js';
import { main } from '../../src/cli/main.js';
import { requirePython } from '../helpers/python.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-ddp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = {
  name: 'ddp-smoke',
  seed: 3,
  data: { kind: 'synthetic', size: 32, trainSamples: 4, valSamples: 2 },
  tasks: ['semseg', 'depth'],
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, head: 'conv' },
  balancer: { method: 'gradnorm' },
  optimizer: { kind: 'adam', lr: 0.002 },
  train: { epochs: 6, batchSize: 4 },
};

interface StepLine {
  step: number;
  losses: Record<string, number>;
  weights: Record<string, number>;
}

describe('train_ddp.py under torchrun', () => {
  it('2 gloo ranks train 5 steps: loss falls, ranks stay identical, the run folder loads back into webmtl', async () => {
    const python = requirePython('torch');
    const run = join(root, 'run');
    rmSync(run, { recursive: true, force: true });
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify(CONFIG));
    const exp = await exportRun(run, { to: 'pytorch', out: join(root, 'export') });
    expect(exp.files).toEqual(expect.arrayContaining(['model.py', 'weights.safetensors', 'train_ddp.py', 'train_plan.json', 'data/train.safetensors']));

    const out = join(root, 'ddp');
    const r = spawnSync(
      python,
      // -r 1 -t 1: torchrun 1.13 on Python 3.11 cannot parse its default '-r 0' (Std flag iteration
      // changed), so stdout goes through its log file and is teed back, lines prefixed '[defaultK]:'.
      ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-r', '1', '-t', '1', '--log_dir', join(root, 'logs'), join(exp.dir, 'train_ddp.py'), '--out', out, '--steps', '5', '--dump-ranks'],
      { encoding: 'utf8', timeout: 110_000, env: { ...process.env, OMP_NUM_THREADS: '1' } },
    );
    expect(r.status, `torchrun failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    const steps = r.stdout
      .split('\n')
      .map((l) => l.replace(/^\[default\d+\]:/, ''))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as StepLine);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);
    const total = (s: StepLine) => Object.values(s.losses).reduce((a, b) => a + b, 0);
    console.log(`DDP losses: ${steps.map((s) => total(s).toFixed(4)).join(' -> ')}; GradNorm weights ${JSON.stringify(steps[4]!.weights)}`);
    expect(total(steps[4]!)).toBeLessThan(total(steps[0]!));
    for (const s of steps) expect(Object.values(s.weights).reduce((a, b) => a + b, 0)).toBeCloseTo(2, 4);

    // Both ranks: bit-identical parameters and balancer state (batch-norm statistics are rank-local
    // between DDP's broadcasts, so buffers are not compared).
    const plan = JSON.parse(readFileSync(join(exp.dir, 'train_plan.json'), 'utf8')) as { parameters: string[] };
    const ranks = [0, 1].map((k) => w.decodeSafetensorsHost(new Uint8Array(readFileSync(join(out, `rank${k}.safetensors`)))).tensors);
    const compared = [...plan.parameters, 'balancer.weights', 'balancer.initialLosses'];
    for (const name of compared) {
      const [a, b] = ranks.map((m) => m.get(name));
      expect(a && b, name).toBeTruthy();
      expect(Buffer.from(a!.data.buffer).equals(Buffer.from(b!.data.buffer)), `${name} differs between ranks`).toBe(true);
    }
    // The exported weights moved.
    const before = w.decodeSafetensorsHost(new Uint8Array(readFileSync(join(exp.dir, 'weights.safetensors')))).tensors;
    const moved = plan.parameters.filter((n) => !Buffer.from(before.get(n)!.data.buffer).equals(Buffer.from(ranks[0]!.get(n)!.data.buffer)));
    expect(moved.length).toBeGreaterThan(plan.parameters.length / 2);

    // Back into webmtl: the Trainer restores model, optimiser, schedule and GradNorm's state.
    const config = await readRunConfig(out);
    const objects = await buildRun(config);
    const trainer = new w.Trainer({ model: objects.model, tasks: objects.tasks, balancer: objects.balancer, optimizer: objects.optimizer, scheduler: objects.scheduler });
    try {
      await trainer.loadCheckpoint(join(out, 'checkpoints/last.safetensors'));
      expect(trainer.step).toBe(5);
      for (const [name, t] of objects.model.namedParameters()) {
        expect(Buffer.from((await t.data()).buffer).equals(Buffer.from(ranks[0]!.get(name)!.data.buffer)), name).toBe(true);
      }
      expect([...(await objects.balancer.weights().data())].reduce((a, b) => a + b, 0)).toBeCloseTo(2, 4);
    } finally {
      trainer.dispose();
      objects.balancer.dispose();
      objects.model.dispose();
    }
    const metrics = await evaluateRun(out);
    expect(Object.keys(metrics).sort()).toEqual(['depth', 'semseg']);
    // webmtl train --resume continues the DDP run to the config's end (6 steps).
    expect(await main(['train', '--resume', out, '--no-progress', '--no-report'])).toBe(0);
    const last = w.decodeSafetensorsHost(new Uint8Array(readFileSync(join(out, 'checkpoints/last.safetensors')))).metadata;
    expect(JSON.parse(last.step!)).toBe(6);
    // The command line's export to ONNX of the same run: a graph onnxruntime runs, one output per task.
    expect(await main(['export', run, '--to', 'onnx', '--out', join(root, 'onnx')])).toBe(0);
    const session = await ort.InferenceSession.create(join(root, 'onnx', 'model.onnx'));
    const res = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]) });
    expect(Object.keys(res).sort()).toEqual(['depth', 'semseg']);
    await session.release();
    await w.init(); // main() shut the shared runtime down
  });
});
