// The way out to scale and back: a smoke run exported to PyTorch trains for 5 steps under
// `torchrun --nproc_per_node 2` (gloo, CPU); its loss falls, both ranks end with identical
// parameters and balancer state, and the run folder it writes loads back into webmtl (the Trainer
// restores model, optimiser, schedule and balancer; weights equal rank 0's). With GradNorm also
// `webmtl eval` on it, `webmtl train --resume` continuing it by a step, and `webmtl export --to
// onnx` of the same run; uncertainty (SGD, poly schedule) and fixed weights train and load back too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const config = (name: string, balancer: Record<string, unknown>, optimizer: Record<string, unknown>, schedule = 'constant') => ({
  name,
  seed: 3,
  data: { kind: 'synthetic', size: 32, trainSamples: 4, valSamples: 2 },
  tasks: ['semseg', 'depth'],
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, head: 'conv' },
  balancer,
  optimizer,
  schedule: { kind: schedule },
  train: { epochs: 6, batchSize: 4 },
});

interface StepLine {
  step: number;
  losses: Record<string, number>;
  weights: Record<string, number>;
}

const bytesOf = (t: { data: Float32Array | Int32Array }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const readHost = (path: string) => w.decodeSafetensorsHost(new Uint8Array(readFileSync(path)), path);

/** Writes the run folder, exports it, trains 5 steps under torchrun; returns the folders and steps. */
async function trainExported(cfg: ReturnType<typeof config>, shardBytes?: number) {
  const python = requirePython('torch');
  const run = join(root, cfg.name);
  mkdirSync(run);
  writeFileSync(join(run, 'config.json'), JSON.stringify(cfg));
  const exp = await exportRun(run, { to: 'pytorch', out: join(root, `${cfg.name}-export`), shardBytes });
  expect(exp.files).toEqual(expect.arrayContaining(['model.py', 'weights.safetensors', 'train_ddp.py', 'train_plan.json', 'data/train.json', 'data/train-00000.safetensors']));
  const out = join(root, `${cfg.name}-ddp`);
  const r = spawnSync(
    python,
    // -r 1 -t 1: torchrun 1.13 on Python 3.11 cannot parse its default '-r 0' (Std flag iteration
    // changed), so stdout goes through its log file and is teed back, lines prefixed '[defaultK]:'.
    ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-r', '1', '-t', '1', '--log_dir', join(root, `${cfg.name}-logs`),
      join(exp.dir, 'train_ddp.py'), '--out', out, '--steps', '5', '--dump-ranks'],
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
  console.log(`DDP ${cfg.name}: losses ${steps.map((s) => total(s).toFixed(4)).join(' -> ')}; weights ${JSON.stringify(steps[4]!.weights)}`);
  expect(total(steps[4]!)).toBeLessThan(total(steps[0]!));
  return { run, exp: exp.dir, out, steps };
}

/**
 * Both ranks' parameters and balancer tensors are bit-identical (batch-norm statistics are
 * rank-local between DDP's broadcasts, so buffers are not compared) and moved from the export.
 */
function expectRanksIdentical(exp: string, out: string, balancerTensors: readonly string[]) {
  const plan = JSON.parse(readFileSync(join(exp, 'train_plan.json'), 'utf8')) as { parameters: string[] };
  const ranks = [0, 1].map((k) => readHost(join(out, `rank${k}.safetensors`)).tensors);
  for (const name of [...plan.parameters, ...balancerTensors.map((b) => `balancer.${b}`)]) {
    const [a, b] = ranks.map((m) => m.get(name));
    expect(a && b, name).toBeTruthy();
    expect(bytesOf(a!).equals(bytesOf(b!)), `${name} differs between ranks`).toBe(true);
  }
  const before = readHost(join(exp, 'weights.safetensors')).tensors;
  const moved = plan.parameters.filter((n) => !bytesOf(before.get(n)!).equals(bytesOf(ranks[0]!.get(n)!)));
  expect(moved.length).toBeGreaterThan(plan.parameters.length / 2);
  return ranks[0]!;
}

/** The DDP run folder's checkpoint restores into a webmtl Trainer; the weights are rank 0's. */
async function expectLoadsBack(out: string, rank0: Map<string, { data: Float32Array | Int32Array }>): Promise<number[]> {
  const objects = await buildRun(await readRunConfig(out));
  const trainer = new w.Trainer({ model: objects.model, tasks: objects.tasks, balancer: objects.balancer, optimizer: objects.optimizer, scheduler: objects.scheduler });
  try {
    await trainer.loadCheckpoint(join(out, 'checkpoints/last.safetensors'));
    expect(trainer.step).toBe(5);
    for (const [name, t] of objects.model.namedParameters()) {
      expect(bytesOf({ data: await t.data() }).equals(bytesOf(rank0.get(name)!)), name).toBe(true);
    }
    return [...(await objects.balancer.weights().data())];
  } finally {
    trainer.dispose();
    objects.balancer.dispose();
    objects.model.dispose();
  }
}

describe('train_ddp.py under torchrun', () => {
  it('GradNorm, 2 gloo ranks, 5 steps: loss falls, ranks identical; eval, resume and ONNX export of the result', async () => {
    // Shards of about one sample each: the ranks read their batches across several files.
    const { run, exp, out, steps } = await trainExported(config('ddp-gradnorm', { method: 'gradnorm' }, { kind: 'adam', lr: 0.002 }), 30_000);
    const index = JSON.parse(readFileSync(join(exp, 'data/train.json'), 'utf8')) as { samples: number; shards: unknown[] };
    expect(index.samples).toBe(4);
    expect(index.shards.length).toBeGreaterThan(1);
    for (const s of steps) expect(Object.values(s.weights).reduce((a, b) => a + b, 0)).toBeCloseTo(2, 4);
    const rank0 = expectRanksIdentical(exp, out, ['weights', 'initialLosses']);
    const weights = await expectLoadsBack(out, rank0);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 4);
    const metrics = await evaluateRun(out);
    expect(Object.keys(metrics).sort()).toEqual(['depth', 'semseg']);
    // webmtl train --resume continues the DDP run to the config's end (6 steps).
    expect(await main(['train', '--resume', out, '--no-progress', '--no-report'])).toBe(0);
    expect(JSON.parse(readHost(join(out, 'checkpoints/last.safetensors')).metadata.step!)).toBe(6);
    // The command line's export to ONNX of the same run: a graph onnxruntime runs, one output per task.
    expect(await main(['export', run, '--to', 'onnx', '--out', join(root, 'onnx')])).toBe(0);
    const session = await ort.InferenceSession.create(join(root, 'onnx', 'model.onnx'));
    const res = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]) });
    expect(Object.keys(res).sort()).toEqual(['depth', 'semseg']);
    await session.release();
    await w.init(); // main() shut the shared runtime down
  });

  it('uncertainty (SGD, poly schedule) and fixed weights: ranks identical, the checkpoint loads back', async () => {
    const u = await trainExported(config('ddp-uncertainty', { method: 'uncertainty' }, { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }, 'poly'));
    const r0 = expectRanksIdentical(u.exp, u.out, ['logVars']);
    const uw = await expectLoadsBack(u.out, r0);
    expect(uw.some((x) => Math.abs(x - 0.5) > 1e-6), 'the log variances were trained').toBe(true);
    const f = await trainExported(config('ddp-fixed', { method: 'fixed', weights: [1, 0.5] }, { kind: 'adamw', lr: 0.002 }));
    expect(Object.values(f.steps[0]!.weights)).toEqual([1, 0.5]);
    expect(await expectLoadsBack(f.out, expectRanksIdentical(f.exp, f.out, ['weights']))).toEqual([1, 0.5]);
  });

  it('a balancer without a DDP version is refused by name, before anything is written', async () => {
    const run = join(root, 'ddp-pcgrad');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify(config('ddp-pcgrad', { method: 'pcgrad' }, { kind: 'adam', lr: 0.001 })));
    const out = join(root, 'ddp-pcgrad-export');
    await expect(exportRun(run, { to: 'pytorch', out })).rejects.toThrow(/balancer 'pcgrad' has no DDP version in train_ddp.py \(use equal, fixed, uncertainty, gradnorm\)/);
    expect(existsSync(join(out, 'model.py'))).toBe(false);
  });
});
