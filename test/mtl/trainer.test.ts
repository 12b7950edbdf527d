import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { FixedWeights } from '../../src/mtl/balance/fixed.js';
import { devices } from '../helpers/devices.js';

/** A tiny dense two-task model: a shared 3x3 conv, then a 1x1 conv head per task. */
class TinyModel extends w.MultiTaskModel {
  readonly taskNames = ['seg', 'depth'] as const;
  readonly enc: w.Conv2d;
  readonly seg: w.Conv2d;
  readonly depth: w.Conv2d;
  constructor(seed = 1) {
    super();
    const generator = new w.Generator(seed);
    this.enc = this.child('enc', new w.Conv2d(3, 6, 3, { padding: 1, generator }));
    this.seg = this.child('seg', new w.Conv2d(6, 3, 1, { generator }));
    this.depth = this.child('depth', new w.Conv2d(6, 1, 1, { generator }));
  }
  forward(x: w.Tensor): w.MultiTaskOutput {
    return w.tidy(() => {
      const z = w.relu(this.enc.forward(x));
      return { outputs: { seg: this.seg.forward(z), depth: this.depth.forward(z) }, representation: z };
    });
  }
  sharedParameters(): w.Tensor[] {
    return this.enc.parameters();
  }
  lastSharedLayer(): w.Tensor {
    return this.enc.weight;
  }
}

const N = 2, H = 5, W = 7;
const tasks = [w.segmentationTask({ name: 'seg', numClasses: 3 }), w.depthTask({ name: 'depth' })];

/** A fixed batch whose labels follow the input, so the model can learn it. */
function makeBatch(seed = 3, depthValue?: number): w.MultiTaskBatch {
  const g = new w.Generator(seed);
  const x = g.uniform(N * 3 * H * W, -1, 1);
  const labels = new Int32Array(N * H * W);
  const depth = new Float32Array(N * H * W);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H * W; i++) {
      const r = x[(n * 3) * H * W + i]!;
      labels[n * H * W + i] = r < -0.3 ? 0 : r < 0.3 ? 1 : 2;
      depth[n * H * W + i] = depthValue ?? 2 + x[(n * 3 + 1) * H * W + i]!;
    }
  return {
    input: w.fromArray(x, [N, 3, H, W]),
    targets: {
      seg: { target: w.fromArray(labels, [N, H, W]) },
      depth: { target: w.fromArray(depth, [N, 1, H, W]), mask: w.ones([N, 1, H, W]) },
    },
  };
}

function setup(opts: { logEvery?: number; lr?: number; seed?: number } = {}) {
  const model = new TinyModel(opts.seed);
  const balancer = new FixedWeights(model.taskNames, { seg: 1, depth: 0.5 });
  const optimizer = new w.Adam(model.parameters(), { lr: opts.lr ?? 0.02 });
  const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: opts.logEvery ?? 5 });
  return { model, balancer, optimizer, trainer };
}

async function params(m: w.Module): Promise<number[][]> {
  return Promise.all(m.parameters().map(async (p) => Array.from(await p.data())));
}

const dir = mkdtempSync(join(tmpdir(), 'webmtl-trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(devices())('Trainer on %s', () => {
  it('trains: losses fall, logs arrive every logEvery steps with the balancer weights', async () => {
    const { model, balancer, trainer } = setup({ logEvery: 5 });
    const seen: number[] = [];
    const b = makeBatch();
    const t2 = new w.Trainer({ model, tasks: [...tasks].reverse(), balancer, optimizer: new w.SGD(model.parameters(), { lr: 0 }) });
    expect(t2.taskNames).toEqual(['seg', 'depth']); // the model's order
    for (let s = 0; s < 12; s++) await trainer.trainStep(b);
    expect(trainer.history.map((h) => h.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await trainer.drainLogs();
    for (const h of trainer.history) seen.push(h.step);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const first = trainer.history[0]!, last = trainer.history[11]!;
    expect(last.losses.seg).toBeLessThan(first.losses.seg! * 0.8);
    expect(last.losses.depth).toBeLessThan(first.losses.depth! * 0.8);
    expect(first.weights).toEqual({ seg: 1, depth: 0.5 });
    expect(trainer.step).toBe(12);
    w.disposeBatch(b);
    trainer.dispose();
    model.dispose();
    balancer.dispose();
  });

  it('the logged loss is the task loss computed independently', async () => {
    const { model, balancer, trainer } = setup({ logEvery: 1 });
    const b = makeBatch();
    const expected = await w.noGrad(async () => {
      const out = model.forward(b.input);
      const v = [await tasks[0]!.loss(out.outputs.seg!, b.targets.seg!).item(), await tasks[1]!.loss(out.outputs.depth!, b.targets.depth!).item()];
      Object.values(out.outputs).forEach((t) => t.dispose());
      out.representation?.dispose();
      return v;
    });
    await trainer.trainStep(b);
    expect(trainer.history[0]!.losses.seg).toBeCloseTo(expected[0]!, 5);
    expect(trainer.history[0]!.losses.depth).toBeCloseTo(expected[1]!, 5);
    w.disposeBatch(b);
    model.dispose();
    balancer.dispose();
  });

  it('evaluate(): metrics per task over all batches, in eval mode, batches disposed', async () => {
    const { model, balancer, trainer } = setup();
    const bs = [makeBatch(5), makeBatch(6)];
    const m = await trainer.evaluate(bs);
    expect(Object.keys(m).sort()).toEqual(['depth', 'seg']);
    expect(Object.keys(m.seg!).sort()).toEqual(['mIoU', 'pixelAcc']);
    expect(m.depth!.rmse).toBeGreaterThan(0);
    expect(bs[0]!.input.disposed).toBe(true);
    expect(model.training).toBe(true);
    model.dispose();
    balancer.dispose();
  });

  it('rejects mismatched tasks, missing targets and wrong shapes before changing anything', async () => {
    const { model, balancer, optimizer } = setup();
    expect(() => new w.Trainer({ model, tasks: [tasks[0]!], balancer, optimizer })).toThrow(/no task for depth/);
    expect(() => new w.Trainer({ model, tasks: [...tasks, w.edgeTask()], balancer, optimizer })).toThrow(/no output for edge/);
    expect(() => new w.Trainer({ model, tasks: [tasks[0]!, tasks[0]!], balancer, optimizer })).toThrow(/listed twice/);
    const before = await params(model);
    const t = new w.Trainer({ model, tasks, balancer, optimizer });
    const b = makeBatch();
    const noDepth: w.MultiTaskBatch = { input: b.input, targets: { seg: b.targets.seg! } };
    await expect(t.trainStep(noDepth)).rejects.toThrow(/no targets for task 'depth'.*has: seg/);
    const wrongSeg = new w.Trainer({ model, tasks: [w.segmentationTask({ name: 'seg', numClasses: 4 }), tasks[1]!], balancer, optimizer });
    await expect(wrongSeg.trainStep(b)).rejects.toThrow(/task 'seg'.*4 channels/);
    const badDepth: w.MultiTaskBatch = { input: b.input, targets: { seg: b.targets.seg!, depth: { target: w.zeros([N, 1, H, W + 1]) } } };
    await expect(t.trainStep(badDepth)).rejects.toThrow(/task 'depth'/);
    const badLabels: w.MultiTaskBatch = { input: b.input, targets: { seg: { target: w.fromArray(new Int32Array(N * H * W).fill(3), [N, H, W]) }, depth: b.targets.depth! } };
    await expect(new w.Trainer({ model, tasks, balancer, optimizer }).trainStep(badLabels)).rejects.toThrow(/task 'seg'.*outside \[0, 3\)/);
    expect(await params(model)).toEqual(before);
    w.disposeBatch(b);
    badDepth.targets.depth!.target.dispose();
    model.dispose();
    balancer.dispose();
  });

  it('a NaN loss stops training with the task and the step; the checkpoint written before is intact', async () => {
    const { model, balancer, trainer } = setup({ logEvery: 4 });
    const good = makeBatch();
    for (let s = 0; s < 3; s++) await trainer.trainStep(good);
    const path = join(dir, 'nan.ckpt');
    await trainer.saveCheckpoint(path);
    const saved = await params(model);
    const bad = makeBatch(3, NaN);
    await trainer.trainStep(good); // step 3
    await trainer.trainStep(bad); // step 4: read back at the 4th pending step? logEvery 4 -> steps 3..6
    await trainer.trainStep(good);
    const err = await trainer.trainStep(good).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(w.NonFiniteLossError);
    expect((err as w.NonFiniteLossError).task).toBe('depth');
    // 1-based, like metrics.jsonl: the fifth step (index 4) is step 5.
    expect((err as w.NonFiniteLossError).step).toBe(5);
    expect(String((err as Error).message)).toMatch(/task 'depth'.*step 5/);
    // The finite step before it in the same readback (index 3) reached the history.
    expect(trainer.history.map((h) => h.step)).toEqual([0, 1, 2, 3]);
    // The file still holds the good state: a fresh model loads it and matches what was saved.
    const fresh = setup({ seed: 9 });
    await fresh.trainer.loadCheckpoint(path);
    expect(await params(fresh.model)).toEqual(saved);
    expect(fresh.trainer.step).toBe(3);
    w.disposeBatch(good);
    w.disposeBatch(bad);
    for (const s of [fresh, { model, balancer }]) {
      s.model.dispose();
      s.balancer.dispose();
    }
  });

  it('checkpoint round trip restores model, optimiser, step, epoch and balancer; another balancer is rejected', async () => {
    const { model, balancer, trainer } = setup();
    const b = makeBatch();
    for (let s = 0; s < 4; s++) await trainer.trainStep(b);
    await trainer.trainEpoch([]);
    const path = join(dir, 'round.ckpt');
    await trainer.saveCheckpoint(path, { note: 'x' });
    const afterSave: number[][] = [];
    // Continue two steps from the saved state in one trainer, and from the file in another.
    for (let s = 0; s < 2; s++) await trainer.trainStep(b);
    afterSave.push(...(await params(model)));
    const other = setup({ seed: 5 });
    const extra = await other.trainer.loadCheckpoint(path);
    expect(extra.note).toBe('x');
    expect(other.trainer.step).toBe(4);
    expect(other.trainer.epoch).toBe(1);
    for (let s = 0; s < 2; s++) await other.trainer.trainStep(b);
    const resumed = await params(other.model);
    resumed.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(afterSave[i]![j]!, 5)));
    const m3 = new TinyModel(2);
    const bal3 = new FixedWeights(m3.taskNames, [1, 1], 'equal');
    const t3 = new w.Trainer({ model: m3, tasks, balancer: bal3, optimizer: new w.Adam(m3.parameters(), { lr: 0.1 }) });
    const before = await params(m3);
    await expect(t3.loadCheckpoint(path)).rejects.toThrow(/balancer 'fixed'.*'equal'/);
    expect(await params(m3)).toEqual(before);
    w.disposeBatch(b);
    for (const s of [other, { model, balancer }, { model: m3, balancer: bal3 }]) {
      s.model.dispose();
      s.balancer.dispose();
    }
  });

  it('GPU memory stays flat over 1000 steps', async () => {
    const { model, balancer, trainer } = setup({ logEvery: 50, lr: 0.001 });
    const b = makeBatch();
    const rt = w.runtime();
    let live100 = 0, bytes100 = 0;
    for (let s = 1; s <= 1000; s++) {
      await trainer.trainStep(b);
      if (s === 100) {
        await rt.sync();
        ({ live: live100, liveBytes: bytes100 } = rt.memory());
      }
    }
    await rt.sync();
    const end = rt.memory();
    expect(end.live).toBe(live100);
    expect(end.liveBytes).toBe(bytes100);
    expect(trainer.history.length).toBe(1000);
    w.disposeBatch(b);
    model.dispose();
    balancer.dispose();
  });
});
