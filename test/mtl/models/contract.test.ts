// Every encoder-focused architecture against the MultiTaskModel contract: outputs at the input size
// with each task's channels (odd sizes too), parameter names, shared parameters and the last shared
// layer (in the shared set, and every task's output depends on it), the representation, and
// gradients reaching every trainable parameter.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { createModel, type MultiTaskModel, type ModelSpec } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, absSumFinite, badGrads, weightedLoss } from './helpers.js';

const tiny = { width: 0.125, seed: 3 } as const;

/** Per architecture: its spec, its tasks, and the parameters documented to get no gradient. */
const CASES: { spec: ModelSpec; tasks: typeof TASKS; noGrad: RegExp | null; shared: RegExp; representation: boolean }[] = [
  { spec: { arch: 'single-task', ...tiny }, tasks: TASKS.slice(0, 1), noGrad: null, shared: /^$/, representation: true },
  { spec: { arch: 'shared-encoder', ...tiny }, tasks: TASKS, noGrad: null, shared: /^backbone\./, representation: true },
  { spec: { arch: 'shared-encoder', ...tiny, head: 'fpn', outputStride: 32 }, tasks: TASKS, noGrad: null, shared: /^backbone\./, representation: false },
  { spec: { arch: 'shared-encoder', ...tiny, head: 'conv', outputStride: 16 }, tasks: TASKS, noGrad: null, shared: /^backbone\./, representation: true },
  { spec: { arch: 'cross-stitch', ...tiny }, tasks: TASKS, noGrad: null, shared: /^cross_stitch\./, representation: false },
  { spec: { arch: 'nddr', ...tiny, head: 'conv' }, tasks: TASKS, noGrad: null, shared: /^nddr\./, representation: false },
  // A conv bias right before a training-mode batch norm has zero gradient (the norm removes any
  // per-channel shift): the survey's attention layers have two such biases.
  { spec: { arch: 'mtan', ...tiny }, tasks: TASKS, noGrad: /^attention_\d\.\w+\.[03]\.bias$/, shared: /^(backbone|refine_\d)\./, representation: false },
];

const label = (c: (typeof CASES)[number]) => `${c.spec.arch}${c.spec.head ? ` (${c.spec.head} head)` : ''}`;

describe.each(devices())('model contract on %s', () => {
  const models: MultiTaskModel[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it.each(CASES.map((c) => [label(c), c] as const))('%s: shapes, sharing, gradients', async (_, c) => {
    const model = createModel(c.spec, c.tasks);
    models.push(model);
    expect(model.taskNames).toEqual(c.tasks.map((t) => t.name));

    // Parameter names are dotted, unique, and the shared set is exactly the documented prefix.
    const named = model.namedParameters();
    expect(new Set(named.map(([n]) => n)).size).toBe(named.length);
    const shared = new Set(model.sharedParameters());
    expect([...shared].length).toBe(model.sharedParameters().length);
    expect(named.filter(([n]) => c.shared.test(n)).map(([, p]) => p)).toEqual([...shared]);

    const x = w.randn([2, 3, 33, 29], { seed: 1 });
    const out = model.forward(x);
    expect(Object.keys(out.outputs)).toEqual(c.tasks.map((t) => t.name));
    for (const t of c.tasks) expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, 33, 29]);
    expect(out.representation !== null).toBe(c.representation);
    if (out.representation) expect(out.representation.shape[0]).toBe(2);

    // The last shared layer: a shared parameter every task's output depends on.
    const last = model.lastSharedLayer();
    if (c.spec.arch === 'single-task') {
      expect(last).toBeNull();
      expect(model.sharedParameters()).toEqual([]);
    } else {
      expect(last).not.toBeNull();
      expect(shared.has(last!)).toBe(true);
      for (const [i, t] of c.tasks.entries()) {
        const loss = weightedLoss({ [t.name]: out.outputs[t.name]! }, 11 + i);
        const [g] = w.grad(loss, [last!], { retainGraph: true });
        const { abs, finite } = await absSumFinite(g!);
        expect(finite, t.name).toBe(true);
        expect(abs, `d ${t.name} / d lastSharedLayer`).toBeGreaterThan(0);
        g!.dispose();
        loss.dispose();
      }
    }

    // Gradients reach every trainable parameter (except the documented ones).
    w.backward(weightedLoss(out.outputs));
    expect(await badGrads(model, c.noGrad)).toEqual([]);
    model.zeroGrad();
    x.dispose();
  });
});
