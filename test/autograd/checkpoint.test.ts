/**
 * Gradient checkpointing: a checkpointed segment gives the same output and the same gradients (to
 * its input and to the parameters it uses) as the plain segment, updates batch norm's running
 * statistics once, replays the same dropout mask, and a ResNet with `recompute` keeps less memory
 * alive between forward and backward while its gradients stay the same.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkpoint } from '../../src/autograd/checkpoint.js';
import { devices } from '../helpers/devices.js';

const values = async (ts: (w.Tensor | null)[]) => Promise.all(ts.map(async (t) => (t ? Array.from(await t.data()) : null)));

/** conv -> batch norm (training) -> relu -> dropout -> conv, as one segment. */
function makeSegment(seed: number) {
  const g = new w.Generator(seed);
  const c1 = new w.Conv2d(3, 5, 3, { padding: 1, generator: g });
  const bn = new w.BatchNorm2d(5);
  const c2 = new w.Conv2d(5, 4, 3, { stride: 2, padding: 1, generator: g });
  const fn = (x: w.Tensor) => c2.forward(w.dropout(bn.forward(c1.forward(x), { activation: 'relu' }), 0.3));
  const params = [...c1.parameters(), ...bn.parameters(), ...c2.parameters()];
  return { fn, params, bn, dispose: () => [c1, bn, c2].forEach((m) => m.dispose()) };
}

describe.each(devices())('checkpoint on %s', () => {
  it('matches the plain segment: output, input and parameter gradients, running statistics, dropout mask', async () => {
    const runs = [];
    for (const useCheckpoint of [false, true]) {
      const seg = makeSegment(7);
      w.defaultDropoutRng.setState({ seed: 99, offset: 3 });
      const x = w.requireGrad(w.randn([2, 3, 9, 7], { seed: 5 }));
      const gy = w.randn([2, 4, 5, 4], { seed: 6 });
      const y = useCheckpoint ? checkpoint(seg.fn, [x], seg.params) : seg.fn(x);
      // The dropout generator moves on after the forward; the replay must not see that.
      w.dropout(w.ones([4]), 0.5).dispose();
      w.backward(w.sum(w.mul(y, gy)));
      runs.push({
        y: Array.from(await y.data()),
        gx: Array.from(await x.grad!.data()),
        gp: await values(seg.params.map((p) => p.grad)),
        stats: await values([seg.bn.runningMean, seg.bn.runningVar]),
        count: await seg.bn.numBatchesTracked.toArray(),
        rng: w.defaultDropoutRng.getState(),
      });
      for (const t of [x, y, gy]) t.dispose();
      seg.dispose();
    }
    const [plain, ck] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(ck.y).toEqual(plain.y);
    expect(ck.gx.length).toBe(plain.gx.length);
    ck.gx.forEach((v, i) => expect(Math.abs(v - plain.gx[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(plain.gx[i]!))));
    ck.gp.forEach((g, k) => g!.forEach((v, i) => expect(Math.abs(v - plain.gp[k]![i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(plain.gp[k]![i]!)))));
    expect(ck.stats).toEqual(plain.stats);
    expect(ck.count).toEqual([1]);
    expect(ck.rng).toEqual(plain.rng);
  });

  it('is a plain call without recording, and refuses nothing it can differentiate', async () => {
    const seg = makeSegment(3);
    const x = w.randn([1, 3, 5, 5], { seed: 2 });
    const y = w.noGrad(() => checkpoint(seg.fn, [x], seg.params));
    expect(y.gradFn).toBeNull();
    expect(y.requiresGrad).toBe(false);
    // An identity segment returns a gradient equal to gy.
    const a = w.requireGrad(w.randn([3], { seed: 1 }));
    const b = checkpoint((t) => t, [a]);
    expect(b).not.toBe(a);
    w.backward(w.sum(w.mul(b, w.fromArray([1, 2, 3]))));
    expect(Array.from(await a.grad!.data())).toEqual([1, 2, 3]);
    for (const t of [x, y, a, b]) t.dispose();
    seg.dispose();
  });

  it('ResNet recompute: same gradients, less memory alive between forward and backward', async () => {
    const rt = w.runtime();
    const result: { live: number; grads: number[][]; loss: number }[] = [];
    for (const recompute of [false, true]) {
      const net = w.resnet18({ widthMultiplier: 0.25, generator: new w.Generator(11) });
      net.recompute = recompute;
      const x = w.randn([2, 3, 64, 64], { seed: 4 });
      await rt.sync();
      const before = rt.memory().liveBytes;
      const loss = w.tidy(() => {
        const f = net.forward(x);
        return w.add(w.mean(w.square(f.c4)), w.mean(f.c2));
      });
      await rt.sync();
      const live = rt.memory().liveBytes - before;
      w.backward(loss);
      const grads = await Promise.all(net.parameters().slice(0, 6).map(async (p) => Array.from(await p.grad!.data())));
      result.push({ live, grads, loss: await loss.item() });
      for (const t of [x, loss]) t.dispose();
      net.dispose();
    }
    const [plain, rc] = result as [(typeof result)[0], (typeof result)[0]];
    expect(rc.loss).toBe(plain.loss);
    rc.grads.forEach((g, k) => g.forEach((v, i) => expect(Math.abs(v - plain.grads[k]![i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(plain.grads[k]![i]!)))));
    expect(rc.live).toBeLessThan(plain.live * 0.6);
  });
});

describe.each(devices())('graphMemory on %s', () => {
  it('sums the distinct buffers a graph keeps, by producing op; recompute shrinks the activations', async () => {
    const a = w.requireGrad(w.randn([4, 8], { seed: 1 }));
    const b = w.randn([8, 3], { seed: 2 });
    const h = w.relu(w.matmul(a, b));
    const y = w.sum(w.mul(h, h.view([4, 3])));
    const m = w.graphMemory(y);
    const byOp = Object.fromEntries(m.byOp.map((g) => [g.op, g]));
    expect(byOp.parameter).toEqual({ op: 'parameter', tensors: 1, bytes: a.bufferFor('t').size });
    expect(byOp.input!.bytes).toBeGreaterThanOrEqual(b.bufferFor('t').size);
    // h and its view share one buffer: counted once.
    expect(byOp.relu!.tensors).toBe(1);
    expect(m.totalBytes).toBe(m.byOp.reduce((s, g) => s + g.bytes, 0));
    expect(m.activationBytes).toBe(m.totalBytes - byOp.parameter!.bytes);
    for (const t of [a, b, h, y]) t.dispose();

    const sizes: number[] = [];
    for (const recompute of [false, true]) {
      const net = w.resnet18({ widthMultiplier: 0.125, generator: new w.Generator(2) });
      net.recompute = recompute;
      const x = w.randn([2, 3, 64, 64], { seed: 3 });
      const loss = w.tidy(() => w.mean(w.square(net.forward(x).c4)));
      const gm = w.graphMemory(loss);
      sizes.push(gm.activationBytes);
      if (recompute) expect(gm.byOp.some((g) => g.op === 'checkpoint')).toBe(true);
      for (const t of [x, loss]) t.dispose();
      net.dispose();
    }
    expect(sizes[1]!).toBeLessThan(sizes[0]! * 0.6);
  });

  it('a padded convolution keeps its input, its output and nothing padded until backward', async () => {
    const x = w.randn([2, 4, 9, 11], { seed: 4 });
    const wt = w.requireGrad(w.randn([5, 4, 3, 3], { seed: 5 }));
    const y = w.conv2d(x, wt, null, { padding: 1 });
    const loss = w.sum(y);
    const size = (t: w.Tensor) => t.bufferFor('t').size;
    // x and y, and the loss; a padded copy of x (2x4x11x13) would add a buffer of its own.
    expect(w.graphMemory(loss).activationBytes).toBe(size(x) + size(y) + size(loss));
    w.backward(loss);
    // The weight gradient pads x again: d sum(y) / d w[o, c, i, j] = the sum of the padded x over
    // the pixels tap (i, j) reads, the same for every o.
    const xs = await x.toArray();
    const g = await wt.grad!.toArray();
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          let want = 0;
          for (let n = 0; n < 2; n++) {
            for (let r = 0; r < 9; r++) {
              for (let q = 0; q < 11; q++) {
                const yy = r + i - 1;
                const xx = q + j - 1;
                if (yy >= 0 && yy < 9 && xx >= 0 && xx < 11) want += xs[((n * 4 + c) * 9 + yy) * 11 + xx]!;
              }
            }
          }
          for (let o = 0; o < 5; o++) expect(g[((o * 4 + c) * 3 + i) * 3 + j]!).toBeCloseTo(want, 3);
        }
      }
    }
    for (const t of [x, wt, y, loss]) t.dispose();
  });
});
