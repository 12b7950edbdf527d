// MTAN as in the survey's code: parameter names and counts by hand, attention masks in (0, 1) with
// the shapes of the stage outputs they gate, where the 2x2 pools go for each output stride, odd
// input sizes, and the documented zero-gradient biases.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { MTANModel } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, maxAbs, weightedLoss } from './helpers.js';

const bb = (outputStride: 8 | 16 | 32 = 8) => ({ widthMultiplier: 0.125, outputStride });
const C = [8, 16, 32, 64]; // resnet18 stages at width 0.125

/** Parameters of the survey's AttentionLayer(in, mid, out): two 1x1 convs with bias, two BNs. */
const attention = (inC: number, mid: number, out: number) => inC * mid + mid + 2 * mid + mid * out + out + 2 * out;
/** Parameters of RefinementBlock(in, out): a Bottleneck with planes out/4 and a 1x1 conv + BN shortcut. */
const refinement = (inC: number, out: number) => {
  const p = out / 4;
  return inC * p + 2 * p + 9 * p * p + 2 * p + p * out + 2 * out + inC * out + 2 * out;
};

describe.each(devices())('MTAN on %s', () => {
  const models: w.Module[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it('names and parameter counts of the attention and refinement modules', () => {
    const m = new MTANModel(TASKS, { backbone: bb(), head: { kind: 'conv' }, generator: new w.Generator(1) });
    models.push(m);
    const shapes = new Map(m.namedParameters().map(([n, p]) => [n, p.shape]));
    expect(shapes.get('attention_1.semseg.0.weight')).toEqual([C[0]! / 4, C[0], 1, 1]);
    expect(shapes.get('attention_2.depth.0.weight')).toEqual([C[1]! / 4, 2 * C[1]!, 1, 1]);
    expect(shapes.get('attention_4.normals.3.weight')).toEqual([C[3], C[3]! / 4, 1, 1]);
    expect(shapes.get('attention_4.normals.4.weight')).toEqual([C[3]]);
    expect(shapes.get('refine_1.0.conv1.weight')).toEqual([C[1]! / 4, C[0], 1, 1]);
    expect(shapes.get('refine_3.0.downsample.0.weight')).toEqual([C[3], C[2], 1, 1]);
    expect([...shapes.keys()].filter((n) => n.startsWith('refine_4'))).toEqual([]);
    const att = C.reduce((a, c, k) => a + attention(k === 0 ? c : 2 * c, c / 4, c), 0);
    const ref = refinement(C[0]!, C[1]!) + refinement(C[1]!, C[2]!) + refinement(C[2]!, C[3]!);
    const byPrefix = (re: RegExp) => m.namedParameters().filter(([n]) => re.test(n)).reduce((a, [, p]) => a + p.size, 0);
    expect(byPrefix(/^attention_/)).toBe(TASKS.length * att);
    expect(byPrefix(/^refine_/)).toBe(ref);
    const heads = byPrefix(/^heads\./);
    expect(m.numParameters()).toBe(m.backbone.numParameters() + heads + TASKS.length * att + ref);
    expect(m.sharedParameters().reduce((a, p) => a + p.size, 0)).toBe(m.backbone.numParameters() + ref);
  });

  it.each([
    [8, [true, false, false]],
    [16, [true, true, false]],
    [32, [true, true, true]],
  ] as const)('output stride %i: pools after refinement blocks %j; masks in (0, 1), odd sizes work', async (os, pools) => {
    const m = new MTANModel(TASKS.slice(0, 2), { backbone: bb(os), generator: new w.Generator(2) });
    models.push(m);
    expect(m.downsample).toEqual(pools);
    const x = w.randn([2, 3, 33, 29], { seed: 4 });
    const out = w.noGrad(() => m.forwardWithMasks(x));
    const f = w.noGrad(() => m.backbone.forward(x));
    const levels = [f.c1, f.c2, f.c3, f.c4];
    for (const t of TASKS.slice(0, 2)) {
      expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, 33, 29]);
      const masks = out.masks[t.name]!;
      expect(masks.map((k) => k.shape)).toEqual(levels.map((l) => l.shape));
      for (const mask of masks) {
        const v = await mask.toArray();
        expect(Math.min(...v)).toBeGreaterThan(0);
        expect(Math.max(...v)).toBeLessThan(1);
      }
    }
    expect(out.representation).toBeNull();
  });

  it('the attention convs biases before batch norm get (numerically) zero gradient, all else real gradient', async () => {
    const m = new MTANModel(TASKS.slice(0, 2), { backbone: bb(), head: { kind: 'conv' }, generator: new w.Generator(3) });
    models.push(m);
    const out = m.forward(w.randn([2, 3, 32, 32], { seed: 5 }));
    w.backward(weightedLoss(out.outputs));
    const biases = m.namedParameters().filter(([n]) => /^attention_\d\.\w+\.[03]\.bias$/.test(n));
    expect(biases.length).toBe(2 * 4 * 2);
    for (const [n, p] of biases) expect(await maxAbs(p.grad!), n).toBeLessThan(1e-3);
    const weight = m.namedParameters().find(([n]) => n === 'attention_1.semseg.0.weight')![1];
    expect(await maxAbs(weight.grad!)).toBeGreaterThan(1e-3);
  });

  it('rejects what it cannot build', () => {
    expect(() => new MTANModel(TASKS, { backbone: bb(), head: { kind: 'fpn' as 'conv' } })).toThrow(/unknown head 'fpn' \(valid: conv, aspp\)/);
    // width 0.1: layer2 has 13 channels, not divisible by 4 for the Bottleneck refinement
    expect(() => new MTANModel(TASKS, { backbone: { widthMultiplier: 0.1 } })).toThrow(/divisible by 4/);
  });
});
