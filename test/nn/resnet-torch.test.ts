// ResNet-18 (width 1/8) against PyTorch: same weights (safetensors written by
// scripts/fixtures/make_resnet_fixture.py), same input; training-mode forward, gradients of
// sum_i sum(c_i * g_i), and one SGD step (lr 0.1, momentum 0.9, weight decay 1e-4) within 1e-3.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';

const TOL = 1e-3;
const path = new URL('../fixtures/resnet18_w0125.safetensors', import.meta.url).pathname;

function group(all: Map<string, w.Tensor>, prefix: string): Map<string, w.Tensor> {
  return new Map([...all].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
}

describe.each(devices())('resnet18 vs PyTorch on %s', () => {
  it('forward, gradients and one SGD step match within 1e-3', async () => {
    const { tensors } = await w.loadSafetensors(path);
    const model = w.resnet18({ widthMultiplier: 0.125 });
    model.loadStateDict(group(tensors, 'model.'));
    model.train();
    const x = tensors.get('input.x')!;
    const feats = model.forward(x);
    const outs = [feats.c1, feats.c2, feats.c3, feats.c4];
    for (let i = 0; i < 4; i++) {
      const want = tensors.get(`output.c${i + 1}`)!;
      expect([...outs[i]!.shape]).toEqual([...want.shape]);
      expect(relErr(await outs[i]!.data(), await want.data()), `c${i + 1}`).toBeLessThan(TOL);
    }
    const loss = w.tidy(() => outs.map((c, i) => w.sum(w.mul(c, tensors.get(`input.g${i + 1}`)!))).reduce((a, b) => w.add(a, b)));
    w.backward(loss);
    const grads = group(tensors, 'grad.');
    expect(grads.size).toBe(model.parameters().length);
    for (const [name, p] of model.namedParameters()) {
      expect(relErr(await p.grad!.data(), await grads.get(name)!.data()), `grad ${name}`).toBeLessThan(TOL);
    }
    const opt = new w.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    opt.step();
    const after = group(tensors, 'after.');
    for (const [name, t] of model.stateDict()) {
      const want = after.get(name);
      if (!want) continue; // num_batches_tracked
      expect(relErr(await t.data(), await want.data()), `after step ${name}`).toBeLessThan(TOL);
    }
    expect(after.size).toBe(model.stateDict().size - model.namedBuffers().filter(([n]) => n.endsWith('num_batches_tracked')).length);
    const nbt = model.namedBuffers().find(([n]) => n.endsWith('num_batches_tracked'))![1];
    expect(await nbt.toArray()).toEqual([1]);
    opt.dispose();
    model.dispose();
    for (const t of tensors.values()) t.dispose();
  });
});
