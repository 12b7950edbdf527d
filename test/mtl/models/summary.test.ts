// FLOP counting and model summaries: conv, transposed conv, linear and matmul against their analytic
// multiply-add counts, ResNet-18 at 224x224 against its known 1.81 GMACs, and the summary of a
// multi-task model (rows add up, training state and forward methods restored).
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { SharedEncoderModel, countFlops, formatCount, summary } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS } from './helpers.js';

describe.each(devices())('FLOPs and summaries on %s', () => {
  const models: w.Module[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it('a Conv2d: 2 * N * O * OH * OW * (C / groups) * KH * KW, and its parameters', () => {
    const conv = new w.Conv2d(6, 8, 3, { stride: 2, padding: 1, groups: 2 });
    models.push(conv);
    const s = summary(conv, [2, 6, 33, 29]);
    // output 17 x 15
    expect(s.totalFlops).toBe(2 * 2 * 8 * 17 * 15 * 3 * 3 * 3);
    expect(s.totalParams).toBe(8 * 3 * 9 + 8);
    expect(s.rows).toEqual([{ name: '(self)', type: 'Conv2d', params: 8 * 3 * 9 + 8, flops: s.totalFlops }]);
  });

  it('a Linear: 2 * rows * out * in; matmul and convTranspose2d through countFlops', () => {
    const lin = new w.Linear(10, 7);
    models.push(lin);
    expect(summary(lin, [4, 3, 10]).totalFlops).toBe(2 * 12 * 7 * 10);
    const c = w.tidy(() =>
      countFlops(() => {
        w.matmul(w.zeros([2, 3, 4]), w.zeros([4, 5]));
        // transposed conv: every input pixel meets the whole [in, out/groups, kh, kw] filter
        w.convTranspose2d(w.zeros([1, 4, 5, 6]), w.zeros([4, 3, 3, 3]), null, { stride: 2 });
        return 0;
      }),
    );
    expect(c.byOp).toEqual({ matmul: 2 * 2 * 3 * 5 * 4, convTranspose2d: 2 * 5 * 6 * 4 * 3 * 9, conv2d: 0, linear: 0 });
    expect(c.total).toBe(c.byOp.matmul + c.byOp.convTranspose2d);
    // Nothing is counted outside a counter, and counters nest.
    const outer = countFlops(() => countFlops(() => w.tidy(() => void w.matmul(w.zeros([2, 2]), w.zeros([2, 2])))).total);
    expect(outer.result).toBe(16);
    expect(outer.total).toBe(16);
  });

  it('ResNet-18 at 224 x 224: 1,813,561,344 multiply-adds (torchvision: 1.81 GMACs with its fc)', () => {
    const r = w.resnet18();
    models.push(r);
    const s = summary(r, [1, 3, 224, 224]);
    // conv1 + layer1 + 3 x (layer2/3/4: strided 3x3, three 3x3, 1x1 downsample), by hand
    const conv1 = 64 * 112 * 112 * 3 * 49;
    const layer1 = 4 * 64 * 56 * 56 * 64 * 9;
    const stage = (c: number, hw: number) => c * hw * (c / 2) * 9 + 3 * c * hw * c * 9 + c * hw * (c / 2);
    expect(stage(128, 28 * 28)).toBe(stage(256, 14 * 14));
    const macs = conv1 + layer1 + 3 * stage(128, 28 * 28);
    expect(macs).toBe(1_813_561_344);
    expect(s.totalFlops).toBe(2 * macs);
    expect(s.totalParams).toBe(11_176_512);
    expect(s.rows.map((r) => r.name)).toEqual(['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4']);
    expect(s.rows.find((r) => r.name === 'conv1')!.flops).toBe(2 * conv1);
    // no '(self)' row: the ResNet holds no parameters of its own, and the max pool it runs itself counts none
  });

  it('a multi-task model: rows per top-level child add up; modes and forwards are restored', async () => {
    const m = new SharedEncoderModel(TASKS, { backbone: { widthMultiplier: 0.25 }, generator: new w.Generator(1) });
    models.push(m);
    m.decoders.get('depth').eval();
    const tracked = await m.backbone.bn1.numBatchesTracked.item();
    const s = summary(m, [1, 3, 64, 64]);
    expect(s.rows.map((r) => [r.name, r.type])).toEqual([
      ['backbone', 'ResNet'],
      ['decoders', 'ModuleDict'],
    ]);
    expect(s.rows.reduce((a, r) => a + r.params, 0)).toBe(s.totalParams);
    expect(s.rows.reduce((a, r) => a + r.flops, 0)).toBe(s.totalFlops);
    expect(s.rows[0]!.params).toBe(m.backbone.numParameters());
    expect(s.rows.every((r) => r.flops > 0)).toBe(true);
    expect(s.text).toMatch(/^SharedEncoderModel on \[1, 3, 64, 64\]/);
    expect(s.text).toMatch(/\ntotal\s+[\d,]+\s+[\d.]+[kMG]$/);
    // eval mode was temporary, and running statistics were not touched
    expect(m.training).toBe(true);
    expect(m.decoders.get('depth').training).toBe(false);
    expect(await m.backbone.bn1.numBatchesTracked.item()).toBe(tracked);
    for (const [, mod] of m.namedModules()) expect(Object.hasOwn(mod, 'forward')).toBe(false);
    // the same batch-2 forward costs twice as much
    expect(summary(m, [2, 3, 64, 64]).totalFlops).toBe(2 * s.totalFlops);
    expect(() => summary(m, [1, 3, 0, 64])).toThrow(/positive integers/);
  });

  it('formats counts', () => {
    expect([formatCount(999), formatCount(1234), formatCount(2.5e6), formatCount(3.627e9)]).toEqual(['999', '1.23k', '2.50M', '3.63G']);
  });
});
