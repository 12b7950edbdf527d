// Cross-stitch units and NDDR layers: parameter names and counts computed by hand, the survey's
// initialisation, the unit's maths against a host computation, and the identity check: with the
// fusion switched off (alpha = identity) the model computes exactly the independent single-task
// networks it is made of.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import {
  CrossStitchModel,
  CrossStitchUnit,
  NDDRModel,
  SingleTaskModel,
  type MultiTaskModel,
} from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, maxAbs, maxDiff } from './helpers.js';

const T = TASKS.length;
// resnet18 at width 0.125: stem 8, c1 8, c2 16, c3 32, c4 64 channels
const CH = { stem: 8, c1: 8, c2: 16, c3: 32, c4: 64 };
const tiny = { backbone: { widthMultiplier: 0.125 }, head: { kind: 'conv' as const } };

/** The single-task network of task `name` holding the same weights as the fused model's branch. */
function singleFrom(fused: MultiTaskModel, name: string, channels: number): SingleTaskModel {
  const single = new SingleTaskModel({ name, channels }, { ...tiny, generator: new w.Generator(99) });
  const state = new Map<string, w.Tensor>();
  for (const [k, t] of fused.stateDict()) {
    if (k.startsWith(`backbone.${name}.`)) state.set(`backbone.${k.slice(`backbone.${name}.`.length)}`, t);
    if (k.startsWith(`heads.${name}.`)) state.set(`decoder.${k.slice(`heads.${name}.`.length)}`, t);
  }
  single.loadStateDict(state);
  return single;
}

/** Parameters of the T single-task networks (encoder + head each) the fused models are made of. */
function singleTaskParams(): number {
  return TASKS.reduce((acc, t) => {
    const s = new SingleTaskModel(t, tiny);
    const n = s.numParameters();
    s.dispose();
    return acc + n;
  }, 0);
}

describe.each(devices())('cross-stitch and NDDR on %s', () => {
  const models: w.Module[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it('cross-stitch: one alpha [T, T, C] per stage, T*T*C parameters, initialised 0.9 / 0.1', async () => {
    const m = new CrossStitchModel(TASKS, { ...tiny, generator: new w.Generator(1) });
    models.push(m);
    const units = m.namedParameters().filter(([n]) => n.startsWith('cross_stitch.'));
    expect(units.map(([n, p]) => [n, p.shape])).toEqual([
      ['cross_stitch.layer1.alpha', [T, T, CH.c1]],
      ['cross_stitch.layer2.alpha', [T, T, CH.c2]],
      ['cross_stitch.layer3.alpha', [T, T, CH.c3]],
      ['cross_stitch.layer4.alpha', [T, T, CH.c4]],
    ]);
    const unitParams = T * T * (CH.c1 + CH.c2 + CH.c3 + CH.c4);
    expect(unitParams).toBe(1080);
    expect(m.crossStitch.numParameters()).toBe(unitParams);
    // Everything else: T single-task networks.
    expect(m.numParameters()).toBe(singleTaskParams() + unitParams);
    const a = await m.crossStitch.get('layer2').alpha.toArray();
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++)
        for (let c = 0; c < CH.c2; c++) expect(a[(i * T + j) * CH.c2 + c]).toBeCloseTo(i === j ? 0.9 : 0.1, 6);
    expect(m.namedParameters().map(([n]) => n)).toContain('backbone.depth.layer4.1.conv2.weight');
    expect(m.namedParameters().map(([n]) => n)).toContain('heads.normals.4.bias');
  });

  it('a cross-stitch unit computes x_i = sum_j alpha[i, j, c] x_j', async () => {
    const [n, c, h, wd] = [2, 3, 2, 5];
    const unit = new CrossStitchUnit(T, c, 0.9, 0.1);
    models.push(unit);
    const alpha = Float32Array.from({ length: T * T * c }, (_, i) => Math.sin(i + 1));
    unit.loadStateDict({ alpha: w.fromArray(alpha, [T, T, c]) });
    const xs = [0, 1, 2].map((s) => w.randn([n, c, h, wd], { seed: 40 + s }));
    const host = await Promise.all(xs.map((x) => x.toArray()));
    const ys = unit.forward(xs);
    for (let i = 0; i < T; i++) {
      const y = await ys[i]!.toArray();
      expect(ys[i]!.shape).toEqual([n, c, h, wd]);
      for (let e = 0; e < y.length; e++) {
        const ch = Math.floor(e / (h * wd)) % c;
        let want = 0;
        for (let j = 0; j < T; j++) want += alpha[(i * T + j) * c + ch]! * host[j]![e]!;
        expect(y[e]).toBeCloseTo(want, 5);
      }
    }
    // d y_i / d alpha[i, j, c] = sum of x_j over that channel
    const g = w.grad(w.sum(ys[1]!), [unit.alpha])[0]!;
    const ga = await g.toArray();
    for (let j = 0; j < T; j++) {
      for (let ch = 0; ch < c; ch++) {
        let want = 0;
        for (let e = 0; e < host[j]!.length; e++) if (Math.floor(e / (h * wd)) % c === ch) want += host[j]![e]!;
        expect(ga[(1 * T + j) * c + ch]).toBeCloseTo(want, 4);
        expect(ga[(0 * T + j) * c + ch]).toBe(0);
      }
    }
    expect(() => unit.forward(xs.slice(0, 2))).toThrow(/expected 3 feature maps/);
  });

  it('cross-stitch with alpha = identity equals the independent single-task networks', async () => {
    const m = new CrossStitchModel(TASKS, { ...tiny, alpha: 1, beta: 0, generator: new w.Generator(5) });
    models.push(m);
    const x = w.randn([2, 3, 33, 29], { seed: 2 });
    const fused = m.forward(x);
    for (const t of TASKS) {
      const single = singleFrom(m, t.name, t.channels);
      const y = single.forward(x).outputs[t.name]!;
      expect(await maxDiff(fused.outputs[t.name]!, y), t.name).toBeLessThan(1e-4 * Math.max(1, await maxAbs(y)));
      single.dispose();
    }
    // ...and with the default mixing it does not.
    const mixed = new CrossStitchModel(TASKS, { ...tiny, generator: new w.Generator(5) });
    models.push(mixed);
    const y2 = mixed.forward(x).outputs.depth!;
    expect(await maxDiff(y2, fused.outputs.depth!)).toBeGreaterThan(1e-3);
  });

  it('NDDR: one 1x1 conv [T*C, T*C] + BN per stage, initialised diagonally (0.9 own, 0.1 others)', async () => {
    const m = new NDDRModel(TASKS, { ...tiny, generator: new w.Generator(1) });
    models.push(m);
    const nddr = m.namedParameters().filter(([n]) => n.startsWith('nddr.'));
    const stages = [['stem', CH.stem], ['layer1', CH.c1], ['layer2', CH.c2], ['layer3', CH.c3], ['layer4', CH.c4]] as const;
    expect(nddr.map(([n, p]) => [n, p.shape])).toEqual(
      stages.flatMap(([s, c]) => [
        [`nddr.${s}.conv.weight`, [T * c, T * c, 1, 1]],
        [`nddr.${s}.bn.weight`, [T * c]],
        [`nddr.${s}.bn.bias`, [T * c]],
      ]),
    );
    // By hand: (3*8)^2 + 48, twice; (3*16)^2 + 96; (3*32)^2 + 192; (3*64)^2 + 384.
    expect(m.nddr.numParameters()).toBe(624 + 624 + 2400 + 9408 + 37248);
    expect(m.numParameters()).toBe(singleTaskParams() + 50304);
    const c = CH.c2;
    const tc = T * c;
    const wgt = await m.nddr.get('layer2').conv.weight.toArray();
    for (let o = 0; o < tc; o++)
      for (let i = 0; i < tc; i++) {
        const [ti, ci, tj, cj] = [Math.floor(o / c), o % c, Math.floor(i / c), i % c];
        const want = ci !== cj ? 0 : ti === tj ? 0.9 : 0.1;
        expect(wgt[o * tc + i], `w[${o}, ${i}]`).toBeCloseTo(want, 6);
      }
    expect(m.nddr.get('layer2').bn.opts.momentum).toBe(0.05);
    expect(await m.nddr.get('layer2').bn.weight!.toArray()).toEqual(new Array(tc).fill(1));
  });

  it('NDDR with alpha = identity (eval mode) equals the independent single-task networks', async () => {
    // Eval-mode batch norm with fresh statistics is x / sqrt(1 + eps), and ReLU keeps the
    // non-negative encoder features: the layers pass each task's features through.
    const m = new NDDRModel(TASKS, { ...tiny, alpha: 1, beta: 0, generator: new w.Generator(6) }).eval();
    models.push(m);
    const x = w.randn([2, 3, 31, 36], { seed: 3 });
    const fused = m.forward(x);
    for (const t of TASKS) {
      const single = singleFrom(m, t.name, t.channels).eval();
      const y = single.forward(x).outputs[t.name]!;
      expect(await maxDiff(fused.outputs[t.name]!, y), t.name).toBeLessThan(1e-4 * Math.max(1, await maxAbs(y)));
      single.dispose();
    }
    // ...and with the default initialisation it does not.
    const mixed = new NDDRModel(TASKS, { ...tiny, generator: new w.Generator(6) }).eval();
    models.push(mixed);
    expect(await maxDiff(mixed.forward(x).outputs.semseg!, fused.outputs.semseg!)).toBeGreaterThan(1e-3);
  });
});
