// train_ddp.py computes what webmtl's Trainer computes: from the same exported weights and the same
// batch, one GradNorm step of PAD-Net on all five synthetic tasks (cross-entropy, depth L1 with its
// offset, normals, balanced BCE for edges and saliency, deep supervision) with SGD gives the same
// parameter updates and the same GradNorm weights in PyTorch (one process) as in webmtl.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { buildRun } from '../../src/cli/build.js';
import { readRunConfig } from '../../src/cli/eval.js';
import { exportRun } from '../../src/cli/export.js';
import { requirePython } from '../helpers/python.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-parity-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = {
  name: 'parity',
  seed: 5,
  data: { kind: 'synthetic', size: 32, trainSamples: 4, valSamples: 2 },
  tasks: ['semseg', 'depth', 'normals', 'edge', 'sal'],
  model: { arch: 'pad-net', backbone: 'resnet18', width: 0.125 },
  balancer: { method: 'gradnorm' },
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 },
  train: { epochs: 1, batchSize: 4 },
};

/** A TCP port nobody listens on now (for the single process's rendezvous). */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('train_ddp.py against webmtl', () => {
  it('one GradNorm step of PAD-Net on five tasks: same updates (within 2e-3 of their size) and weights', async () => {
    const python = requirePython('torch');
    const run = join(root, 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify(CONFIG));
    const exp = await exportRun(run, { to: 'pytorch', out: join(root, 'export') });
    const out = join(root, 'ddp');
    const r = spawnSync(python, [join(exp.dir, 'train_ddp.py'), '--out', out, '--steps', '1', '--dump-ranks'], {
      encoding: 'utf8',
      timeout: 110_000,
      env: { ...process.env, OMP_NUM_THREADS: '1', MASTER_PORT: String(await freePort()) },
    });
    expect(r.status, `train_ddp.py failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    const torch = w.decodeSafetensorsHost(new Uint8Array(readFileSync(join(out, 'rank0.safetensors')))).tensors;

    const objects = await buildRun(await readRunConfig(run));
    const { tensors: start } = await w.loadSafetensors(join(exp.dir, 'weights.safetensors'));
    objects.model.loadStateDict(start);
    const pack = w.decodeSafetensorsHost(new Uint8Array(readFileSync(join(exp.dir, 'data/train-00000.safetensors')))).tensors;
    const host = (k: string) => pack.get(k)!;
    const batch: w.MultiTaskBatch = {
      input: w.fromArray(host('input').data, host('input').shape),
      targets: Object.fromEntries(
        CONFIG.tasks.map((t) => {
          const target = host(`target.${t}`);
          const mask = pack.get(`mask.${t}`);
          return [t, { target: w.fromArray(target.data, target.shape, { dtype: target.dtype }), ...(mask ? { mask: w.fromArray(mask.data, mask.shape) } : {}) }];
        }),
      ),
    };
    const trainer = new w.Trainer({ model: objects.model, tasks: objects.tasks, balancer: objects.balancer, optimizer: objects.optimizer, scheduler: objects.scheduler });
    try {
      await trainer.trainStep(batch);
      let worst = 0;
      let worstName = '';
      for (const [name, p] of objects.model.namedParameters()) {
        const before = await start.get(name)!.data();
        const mine = await p.data();
        const theirs = torch.get(name)!.data;
        let diff = 0;
        let size = 0;
        for (let i = 0; i < mine.length; i++) {
          diff = Math.max(diff, Math.abs(mine[i]! - theirs[i]!));
          size = Math.max(size, Math.abs(mine[i]! - before[i]!));
        }
        if (size > 0 && diff / size > worst) (worst = diff / size), (worstName = name);
      }
      console.log(`one step, webmtl vs PyTorch: worst update difference ${worst.toExponential(2)} of the update (${worstName})`);
      expect(worst, worstName).toBeLessThan(2e-3);
      const ours = [...(await w.noGrad(() => objects.balancer.state().tensors.weights!.data()))];
      const theirs = [...torch.get('balancer.weights')!.data];
      ours.forEach((v, i) => expect(Math.abs(v - theirs[i]!), `GradNorm weight ${i}: ${v} vs ${theirs[i]}`).toBeLessThan(1e-4));
      expect(ours.some((v) => Math.abs(v - 1) > 1e-3), 'the weights moved').toBe(true);
    } finally {
      w.disposeBatch(batch);
      trainer.dispose();
      objects.balancer.dispose();
      objects.model.dispose();
      for (const t of start.values()) t.dispose();
    }
  });
});
