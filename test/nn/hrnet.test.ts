// HRNet-W18 (the survey's layout): feature shapes, channels and strides of every level, gradients
// to every parameter in training mode, a checkpoint round trip that reproduces the eval outputs, the
// official checkpoints' classifier keys dropped on load, and typed errors for bad options.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';

const LEVELS = w.FEATURE_LEVELS;

describe.each(devices())('hrnet18 on %s', () => {
  it('levels stem, c1..c4: channels, strides and shapes (ceil(h / s)) at width 1 and 0.25', () => {
    const full = w.hrnet18();
    expect(full.channels).toEqual({ stem: 64, c1: 18, c2: 36, c3: 72, c4: 144 });
    expect(full.strides).toEqual({ stem: 2, c1: 4, c2: 8, c3: 16, c4: 32 });
    expect(full.numParameters()).toBe(3_860_720);
    full.dispose();
    const m = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(1) });
    expect(m.channels).toEqual({ stem: 16, c1: 5, c2: 9, c3: 18, c4: 36 });
    for (const [h, wd] of [
      [64, 64],
      [50, 70],
    ] as const) {
      const x = w.randn([2, 3, h, wd], { seed: 2 });
      const f = w.noGrad(() => m.eval().forward(x));
      for (const l of LEVELS) {
        const s = m.strides[l];
        expect([...f[l].shape], `${l} at ${h}x${wd}`).toEqual([2, m.channels[l], Math.ceil(h / s), Math.ceil(wd / s)]);
        f[l].dispose();
      }
      x.dispose();
    }
    m.dispose();
  });

  it('training mode on 2x3x64x64: every parameter gets a finite, non-zero gradient', async () => {
    const m = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(5) });
    const x = w.randn([2, 3, 64, 64], { generator: new w.Generator(9), requiresGrad: true });
    const g = new w.Generator(11);
    // Random weights per level so no gradient cancels by symmetry (a plain mean would zero BN biases' grads).
    const loss = w.tidy(() => {
      const f = m.train().forward(x);
      return LEVELS.map((l) => w.sum(w.mul(f[l], w.randn([...f[l].shape], { generator: g })))).reduce((a, b) => w.add(a, b));
    });
    w.backward(loss);
    const params = m.namedParameters();
    expect(params.length).toBeGreaterThan(300);
    const dead: string[] = [];
    for (const [k, p] of params) {
      const gr = await p.grad!.data();
      if (!gr.every(Number.isFinite) || !gr.some((v) => v !== 0)) dead.push(k);
    }
    expect(dead).toEqual([]);
    expect((await x.grad!.data()).some((v) => v !== 0)).toBe(true);
    loss.dispose();
    x.dispose();
    m.dispose();
  });

  it('recompute (checkpointed layer1 and branches) gives the same loss and gradients within 1e-4', async () => {
    const m = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(4) });
    const x = w.randn([2, 3, 32, 32], { seed: 6 });
    const run = async () => {
      m.zeroGrad();
      const loss = w.tidy(() => {
        const f = m.train().forward(x);
        return LEVELS.map((l, i) => w.sum(w.mul(f[l], w.randn([...f[l].shape], { seed: 20 + i })))).reduce((a, b) => w.add(a, b));
      });
      w.backward(loss);
      const out = { loss: await loss.item(), grads: await Promise.all(m.parameters().map(async (p) => Array.from(await p.grad!.data()))) };
      loss.dispose();
      return out;
    };
    const plain = await run();
    m.recompute = true;
    const again = await run();
    expect(again.loss).toBeCloseTo(plain.loss, 3);
    const worst = Math.max(...plain.grads.map((g, i) => relErr(again.grads[i]!, g)));
    expect(worst).toBeLessThan(1e-4);
    x.dispose();
    m.dispose();
  });

  it('checkpoint round trip: a fresh model restored from the bytes gives the same eval features', async () => {
    const a = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(7) });
    const x = w.randn([2, 3, 32, 32], { seed: 3 });
    // One training forward moves the running statistics away from their initial values.
    w.tidy(() => void a.train().forward(x));
    const bytes = await w.encodeCheckpoint({ model: a, step: 3 });
    const b = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(8) });
    const r = w.restoreCheckpoint(bytes, { model: b });
    expect(r.step).toBe(3);
    const fa = w.noGrad(() => a.eval().forward(x));
    const fb = w.noGrad(() => b.eval().forward(x));
    for (const l of LEVELS) expect(Array.from(await fb[l].data()), l).toEqual(Array.from(await fa[l].data()));
    for (const f of [fa, fb]) for (const l of LEVELS) f[l].dispose();
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it("drops the official checkpoints' classifier keys with a note and stays strict otherwise", () => {
    const src = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(1) });
    const dst = w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(2) });
    const extra = ['incre_modules.0.0.conv1.weight', 'downsamp_modules.0.0.weight', 'final_layer.0.weight', 'classifier.weight'];
    const junk = w.zeros([2]);
    const sd = new Map(src.stateDict());
    for (const k of extra) sd.set(k, junk);
    const res = dst.loadStateDict(sd);
    expect(res.ignored?.keys.sort()).toEqual([...extra].sort());
    expect(res.ignored?.why).toMatch(/classification head/);
    expect(dst.loadStateDict(src.stateDict()).ignored).toBeUndefined();
    sd.set('stage5.0.weight', junk);
    expect(() => dst.loadStateDict(sd)).toThrow(/stage5\.0\.weight/);
    // The pretrained key map drops the same keys by name.
    const km = w.PRETRAINED_KEY_MAPS.hrnet18;
    expect(extra.map((k) => km.map(k))).toEqual([null, null, null, null]);
    expect(km.map('stage4.1.fuse_layers.3.0.0.0.weight')).toBe('stage4.1.fuse_layers.3.0.0.0.weight');
    expect(km.dropped).toMatch(/incre_modules/);
    junk.dispose();
    src.dispose();
    dst.dispose();
  });

  it('lastConv is stage 4 branch 0 conv2 (read by every output); bad options and inputs are typed errors', () => {
    const m = w.hrnet18({ widthMultiplier: 0.25 });
    const name = m.namedParameters().find(([, p]) => p === m.lastConv().weight)![0];
    expect(name).toBe('stage4.1.branches.0.1.conv2.weight');
    const x = w.zeros([1, 4, 16, 16]);
    expect(() => m.forward(x)).toThrow(w.ShapeError);
    x.dispose();
    m.dispose();
    expect(() => w.hrnet18({ widthMultiplier: 0 })).toThrow(/widthMultiplier/);
    expect(() => w.hrnet18({ inChannels: 0 })).toThrow(/inChannels/);
    const bad = { ...w.HRNET_W18_SURVEY, stages: [{ modules: 1, blocks: [2] }, ...w.HRNET_W18_SURVEY.stages.slice(1)] } as unknown as w.HRNetConfig;
    expect(() => w.hrnet18({ config: bad })).toThrow(/stage 2/);
  });
});
