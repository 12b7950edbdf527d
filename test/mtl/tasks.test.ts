import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { rng } from '../helpers/rng.js';

const N = 2, H = 3, W = 5, P = N * H * W;


/** Survey's BalancedCrossEntropyLoss(size_average=True) in float64: w*pos + (1-w)*neg, / #elements. */
function balancedBceRef(x: number[], t: number[], w: number | null, mask?: number[]): number {
  const posW = w ?? t.reduce((a, v) => a + (1 - v), 0) / t.length;
  let pos = 0, neg = 0;
  x.forEach((o, i) => {
    if (mask && mask[i] === 0) return;
    const gt0 = o >= 0 ? 1 : 0;
    const lv = o * (t[i]! - gt0) - Math.log(1 + Math.exp(o - 2 * o * gt0));
    pos += -t[i]! * lv;
    neg += -(1 - t[i]!) * lv;
  });
  return (posW * pos + (1 - posW) * neg) / x.length;
}

describe.each(devices())('built-in tasks on %s', () => {
  const r = rng(11);
  const logits = Array.from({ length: P }, () => r() * 8 - 4);
  const edges = Array.from({ length: P }, () => (r() < 0.2 ? 1 : 0));
  const mask = Array.from({ length: P }, () => (r() < 0.25 ? 0 : 1));

  it('edge: balanced BCE with posWeight 0.95 equals the survey formula (with and without mask)', async () => {
    const task = w.edgeTask();
    expect([task.name, task.channels, task.weight]).toEqual(['edge', 1, 1]);
    const x = w.fromArray(logits, [N, 1, H, W]);
    const t = w.fromArray(edges, [N, H, W]);
    expect(await task.loss(x, { target: t }).item()).toBeCloseTo(balancedBceRef(logits, edges, 0.95), 5);
    const m = w.fromArray(mask, [N, 1, H, W]);
    expect(await task.loss(x, { target: t, mask: m }).item()).toBeCloseTo(balancedBceRef(logits, edges, 0.95, mask), 5);
    const p = await task.postprocess!(x).data();
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-logits[0]!)), 6);
    expect(task.metrics()[0]!.name).toBe('EdgeMetric');
  });

  it('saliency: the positive weight is the batch fraction of negatives, computed on the GPU', async () => {
    const task = w.saliencyTask();
    const x = w.fromArray(logits, [N, 1, H, W]);
    const t = w.fromArray(edges, [N, 1, H, W]);
    expect(await task.loss(x, { target: t }).item()).toBeCloseTo(balancedBceRef(logits, edges, null), 5);
    expect(task.metrics()[0]!.name).toBe('SaliencyMetric');
  });

  it('depth: masked L1; normals: masked L1 on normalised predictions; gradients flow', async () => {
    const d = w.depthTask({ weight: 2 });
    expect(d.weight).toBe(2);
    const pred = w.requireGrad(w.fromArray(logits, [N, 1, H, W]));
    const tgt = Array.from({ length: P }, () => r() * 3);
    let s = 0, k = 0;
    logits.forEach((p, i) => {
      if (mask[i]) (s += Math.abs(p - tgt[i]!)), k++;
    });
    const l = d.loss(pred, { target: w.fromArray(tgt, [N, H, W]), mask: w.fromArray(mask, [N, H, W]) });
    expect(await l.item()).toBeCloseTo(s / k, 5);
    w.backward(l);
    expect((await pred.grad!.data()).some((v) => v !== 0)).toBe(true);

    const nt = w.normalsTask();
    const np = Array.from({ length: N * 3 * H * W }, () => r() * 2 - 1);
    const nn = Array.from({ length: N * 3 * H * W }, () => r() * 2 - 1);
    // unit targets
    for (let n = 0; n < N; n++)
      for (let i = 0; i < H * W; i++) {
        const idx = [0, 1, 2].map((c) => (n * 3 + c) * H * W + i);
        const len = Math.hypot(...idx.map((j) => nn[j]!));
        idx.forEach((j) => (nn[j]! /= len));
      }
    let ns = 0, nk = 0;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < H * W; i++) {
        if (!mask[n * H * W + i]) continue;
        const idx = [0, 1, 2].map((c) => (n * 3 + c) * H * W + i);
        const len = Math.max(Math.hypot(...idx.map((j) => np[j]!)), 1e-12);
        idx.forEach((j) => (ns += Math.abs(np[j]! / len - nn[j]!)));
        nk += 3;
      }
    const nl = nt.loss(w.fromArray(np, [N, 3, H, W]), { target: w.fromArray(nn, [N, 3, H, W]), mask: w.fromArray(mask, [N, 1, H, W]) });
    expect(await nl.item()).toBeCloseTo(ns / nk, 5);
  });

  it('segmentation and human parts: cross-entropy ignoring 255; mIoU metrics', async () => {
    const seg = w.segmentationTask({ numClasses: 4 });
    const parts = w.humanPartsTask();
    expect([seg.name, seg.channels, parts.name, parts.channels]).toEqual(['semseg', 4, 'human_parts', 7]);
    const C = 4;
    const lg = Array.from({ length: N * C * H * W }, () => r() * 4 - 2);
    const lab = Array.from({ length: P }, () => (r() < 0.2 ? 255 : Math.floor(r() * C)));
    let s = 0, k = 0;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < H * W; i++) {
        const t = lab[n * H * W + i]!;
        if (t === 255) continue;
        const v = [0, 1, 2, 3].map((c) => lg[(n * C + c) * H * W + i]!);
        const m = Math.max(...v);
        s += Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0)) + m - v[t]!;
        k++;
      }
    const l = seg.loss(w.fromArray(lg, [N, C, H, W]), { target: w.fromArray(lab, [N, 1, H, W], { dtype: 'i32' }) });
    expect(await l.item()).toBeCloseTo(s / k, 5);
    expect(seg.metrics()[0]!.name).toBe('SegmentationMetric');
  });

  it('check() names the task and what is wrong', () => {
    const seg = w.segmentationTask({ numClasses: 4 });
    const labels = w.zeros([N, H, W], { dtype: 'i32' });
    expect(() => seg.check(w.zeros([N, 3, H, W]), { target: labels })).toThrow(/task 'semseg'.*\[N,4,H,W\].*4 channels/);
    expect(() => seg.check(w.zeros([N, 4, H, W]), { target: w.zeros([N, H, W]) })).toThrow(w.DTypeError);
    expect(() => seg.check(w.zeros([N, 4, H, W + 1]), { target: labels })).toThrow(/task 'semseg'.*spatial/);
    expect(() => seg.check(w.zeros([N, 4, H, W]), { target: labels })).not.toThrow();
    const d = w.depthTask();
    expect(() => d.check(w.zeros([N, 1, H, W]), { target: w.zeros([N, 1, H, W]), mask: w.zeros([N, 1, H + 1, W]) })).toThrow(/task 'depth'.*mask/);
    const nt = w.normalsTask();
    expect(() => nt.check(w.zeros([N, 3, H, W]), { target: w.zeros([N, 1, H, W]) })).toThrow(/task 'normals'.*\[N,3,H,W\]/);
    expect(() => w.segmentationTask({ numClasses: 0 })).toThrow(/numClasses/);
    expect(() => w.edgeTask({ posWeight: 2 })).toThrow(/posWeight/);
    expect(() => w.depthTask({ weight: -1 })).toThrow(/weight/);
  });

  it('generic regression and classification tasks', async () => {
    const reg = w.regressionTask({ name: 'r', channels: 2 });
    const p = w.fromArray([1, 2, 3, 4], [2, 2]);
    const t = w.fromArray([1, 0, 3, 2], [2, 2]);
    expect(await reg.loss(p, { target: t }).item()).toBeCloseTo(2, 6);
    expect(() => reg.check(w.zeros([2, 3]), { target: w.zeros([2, 3]) })).toThrow(/task 'r'/);
    const m = reg.metrics()[0]!;
    await m.update(p, t);
    expect(m.compute()).toEqual({ mse: 2, mae: 1 });
    const cls = w.classificationTask({ name: 'c', numClasses: 3 });
    const lg = w.fromArray([3, 0, 0, 0, 0, 2], [2, 3]);
    const lab = w.fromArray([0, 1], [2], { dtype: 'i32' });
    cls.check(lg, { target: lab });
    const acc = cls.metrics()[0]!;
    await acc.update(lg, lab);
    expect(acc.compute()).toEqual({ accuracy: 0.5 });
    expect(await cls.loss(lg, { target: lab }).item()).toBeGreaterThan(0);
  });
});
