// The spec-driven factory and input validation: each arch builds its class with the survey's
// defaults, and bad specs, task lists and inputs fail with errors that name the valid choices.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import {
  ARCHITECTURES,
  CrossStitchModel,
  MTANModel,
  NDDRModel,
  SharedEncoderModel,
  SingleTaskModel,
  createModel,
  type ModelSpec,
  type MultiTaskModel,
} from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS } from './helpers.js';

const tiny = { width: 0.125, head: 'conv' } as const;

describe.each(devices())('createModel on %s', () => {
  const models: MultiTaskModel[] = [];
  const make = (spec: ModelSpec, tasks = TASKS) => {
    const m = createModel(spec, tasks);
    models.push(m);
    return m;
  };
  afterAll(() => models.forEach((m) => m.dispose()));

  it('builds every architecture in the table', () => {
    expect(Object.keys(ARCHITECTURES)).toEqual(['single-task', 'shared-encoder', 'cross-stitch', 'nddr', 'mtan', 'pad-net', 'mti-net', 'pap-net', 'jtrl']);
    expect(make({ arch: 'single-task', ...tiny }, TASKS.slice(0, 1))).toBeInstanceOf(SingleTaskModel);
    expect(make({ arch: 'shared-encoder', ...tiny })).toBeInstanceOf(SharedEncoderModel);
    expect(make({ arch: 'cross-stitch', ...tiny, alpha: 0.8, beta: 0.05 })).toBeInstanceOf(CrossStitchModel);
    expect(make({ arch: 'nddr', ...tiny })).toBeInstanceOf(NDDRModel);
    expect(make({ arch: 'mtan', ...tiny })).toBeInstanceOf(MTANModel);
  });

  it("defaults follow the survey: resnet18 dilated to output stride 8, ASPP heads with rates 12/24/36 and 256 channels", () => {
    const m = make({ arch: 'shared-encoder' }, TASKS.slice(0, 2)) as SharedEncoderModel;
    expect(m.backbone.outputStride).toBe(8);
    expect(m.backbone.channels.c4).toBe(512);
    const head = m.decoders.get('semseg');
    expect(head).toBeInstanceOf(w.ASPPHead);
    const aspp = head as w.ASPPHead;
    expect(aspp.aspp.outChannels).toBe(256);
    const dil = aspp.aspp.convs.items.slice(1, 4).map((b) => ((b as w.Sequential).layers[0] as w.Conv2d).opts.dilation);
    expect(dil).toEqual([12, 24, 36]);
    // narrow encoders get narrow heads; other strides other rates
    const n = make({ arch: 'shared-encoder', width: 0.25, outputStride: 16 }, TASKS.slice(0, 1)) as SharedEncoderModel;
    const a2 = (n.decoders.get('semseg') as w.ASPPHead).aspp;
    expect(a2.outChannels).toBe(64);
    expect(((a2.convs.items[1] as w.Sequential).layers[0] as w.Conv2d).opts.dilation).toBe(6);
  });

  it('seeds make models reproducible', async () => {
    const a = make({ arch: 'nddr', ...tiny, seed: 9 }, TASKS.slice(0, 2));
    const b = make({ arch: 'nddr', ...tiny, seed: 9 }, TASKS.slice(0, 2));
    const c = make({ arch: 'nddr', ...tiny, seed: 10 }, TASKS.slice(0, 2));
    const pick = (m: MultiTaskModel) => m.namedParameters().find(([n]) => n === 'backbone.depth.layer3.0.conv1.weight')![1].toArray();
    expect(await pick(a)).toEqual(await pick(b));
    expect(await pick(a)).not.toEqual(await pick(c));
  });

  it('rejects unknown architectures and options with the valid ones', () => {
    expect(() => createModel({ arch: 'padnet' } as unknown as ModelSpec, TASKS)).toThrow(
      /unknown architecture "padnet" \(valid: single-task, shared-encoder, cross-stitch, nddr, mtan, pad-net, mti-net, pap-net, jtrl\)/,
    );
    expect(() => createModel({} as ModelSpec, TASKS)).toThrow(/unknown architecture undefined/);
    expect(() => createModel({ arch: 'shared-encoder', alpha: 0.9 } as ModelSpec, TASKS)).toThrow(
      /'shared-encoder' does not take 'alpha' \(valid options: arch, backbone, width, outputStride, inChannels, head, headChannels, rates, seed\)/,
    );
    expect(() => createModel({ arch: 'cross-stitch', widthMultiplier: 0.5 } as ModelSpec, TASKS)).toThrow(/does not take 'widthMultiplier'.*alpha, beta/);
    expect(() => createModel({ arch: 'shared-encoder', width: 0.125, backbone: 'resnet7' } as unknown as ModelSpec, TASKS)).toThrow(
      /unknown backbone 'resnet7' \(valid: resnet18, resnet34, resnet50, hrnet18\)/,
    );
    expect(() => createModel({ arch: 'shared-encoder', head: 'unet' } as unknown as ModelSpec, TASKS)).toThrow(/unknown head 'unet' \(valid: conv, aspp, fpn, hrnet\)/);
    expect(() => createModel({ arch: 'mtan', head: 'fpn' } as unknown as ModelSpec, TASKS)).toThrow(/unknown head 'fpn' \(valid: conv, aspp\)/);
    expect(() => createModel({ arch: 'shared-encoder', width: 0.125, head: 'conv', rates: [1, 2, 3] }, TASKS)).toThrow(/'rates' applies to 'aspp' heads only/);
    expect(() => createModel({ arch: 'shared-encoder', width: -1 }, TASKS)).toThrow(/widthMultiplier must be a positive number/);
  });

  it('rejects bad task lists', () => {
    const spec: ModelSpec = { arch: 'shared-encoder', ...tiny };
    expect(() => createModel(spec, [])).toThrow(/needs at least one task/);
    expect(() => createModel(spec, [TASKS[0]!, { name: 'semseg', channels: 2 }])).toThrow(/task 'semseg' appears twice/);
    expect(() => createModel(spec, [{ name: 'a.b', channels: 2 }])).toThrow(/without dots/);
    expect(() => createModel(spec, [{ name: '', channels: 2 }])).toThrow(/non-empty string/);
    expect(() => createModel(spec, [{ name: 'depth', channels: 0 }])).toThrow(/task 'depth' has 0 output channels/);
    expect(() => createModel({ arch: 'single-task', ...tiny }, TASKS)).toThrow(/'single-task' takes exactly one task, got 3/);
    for (const arch of ['cross-stitch', 'nddr', 'mtan'] as const) expect(() => createModel({ arch, ...tiny }, [])).toThrow(/at least one task/);
  });

  it('rejects inputs with the wrong channels or rank', () => {
    const specs: ModelSpec[] = [
      { arch: 'single-task', ...tiny },
      { arch: 'shared-encoder', ...tiny },
      { arch: 'cross-stitch', ...tiny },
      { arch: 'nddr', ...tiny },
      { arch: 'mtan', ...tiny },
    ];
    for (const spec of specs) {
      const m = make(spec, TASKS.slice(0, 1));
      const bad = w.zeros([2, 1, 32, 32]);
      expect(() => m.forward(bad), spec.arch).toThrow(w.ShapeError);
      expect(() => m.forward(bad), spec.arch).toThrow(/expected an image batch \[N, 3, H, W\]/);
      expect(() => m.forward(w.zeros([3, 32, 32])), spec.arch).toThrow(/\[N, 3, H, W\]/);
      bad.dispose();
    }
    // a 1-channel model takes 1-channel input
    const gray = make({ arch: 'shared-encoder', ...tiny, inChannels: 1 }, TASKS.slice(0, 1));
    const y = w.noGrad(() => gray.forward(w.zeros([1, 1, 16, 20])));
    expect(y.outputs.semseg!.shape).toEqual([1, 5, 16, 20]);
  });
});

describe('archTakes', () => {
  it('says which architectures take head options (what compare passes on)', async () => {
    const { archTakes } = await import('../../../src/mtl/models/index.js');
    for (const a of ['single-task', 'shared-encoder', 'cross-stitch', 'nddr', 'mtan']) expect(archTakes(a, 'head'), a).toBe(true);
    for (const a of ['pad-net', 'mti-net', 'pap-net', 'jtrl']) expect(archTakes(a, 'head'), a).toBe(false);
    expect(archTakes('pap-net', 'iterations')).toBe(true);
    expect(archTakes('no-such-arch', 'head')).toBe(false);
  });
});
