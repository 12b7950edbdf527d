// Module: dotted names and registration order, state dicts (round trip, strict and non-strict loads,
// all-or-nothing on mismatches), freeze/unfreeze by prefix, train/eval propagation, BatchNorm2d's
// running statistics and its GPU-side num_batches_tracked counter.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { ND } from '../reference/ndarray.js';
import * as RN from '../reference/norm.js';

/** A small network: own parameter, a Sequential stem (conv, bn, relu, dropout) and a 1x1 head. */
class Net extends w.Layer {
  readonly scale: w.Tensor;
  readonly stem: w.Sequential;
  readonly head: w.Conv2d;

  constructor(seed: number, rng = new w.DropoutRng(seed)) {
    super();
    const g = new w.Generator(seed);
    this.stem = this.child('stem', new w.Sequential(new w.Conv2d(2, 4, 3, { padding: 1, generator: g }), new w.BatchNorm2d(4), new w.ReLU(), new w.Dropout(0.5, { rng })));
    this.head = this.child('head', new w.Conv2d(4, 3, 1, { generator: g }));
    // Registered after the children, listed before them (own parameters come first).
    this.scale = this.param('scale', w.fromArray([1.5], [1]));
  }

  forward(x: w.Tensor): w.Tensor {
    return w.mul(this.head.forward(this.stem.forward(x)), this.scale);
  }
}

const PARAMS = ['scale', 'stem.0.weight', 'stem.0.bias', 'stem.1.weight', 'stem.1.bias', 'head.weight', 'head.bias'];
const BUFFERS = ['stem.1.running_mean', 'stem.1.running_var', 'stem.1.num_batches_tracked'];

async function values(m: w.Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m.stateDict()) out.set(k, await t.toArray());
  return out;
}

describe.each(devices())('Module on %s', () => {
  it('names parameters, buffers and modules with dotted paths in registration order', () => {
    const net = new Net(1);
    expect(net.namedParameters().map(([n]) => n)).toEqual(PARAMS);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(BUFFERS);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'stem', 'stem.0', 'stem.1', 'stem.2', 'stem.3', 'head']);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['stem', 'head']);
    expect([...net.stateDict().keys()]).toEqual([...PARAMS, ...BUFFERS]);
    expect(net.parameters()).toEqual(net.namedParameters().map(([, t]) => t));
    expect(net.stem.layers[0]!.namedParameters('stem.0').map(([n]) => n)).toEqual(['stem.0.weight', 'stem.0.bias']);
    expect(net.numParameters()).toBe(1 + 4 * 2 * 9 + 4 + 4 + 4 + 3 * 4 + 3);
    // Parameters require gradients and carry their local name; buffers do not.
    expect(net.parameters().every((t) => t.requiresGrad)).toBe(true);
    expect(net.head.weight.name).toBe('weight');
    expect(net.namedBuffers().some(([, t]) => t.requiresGrad)).toBe(false);
    net.dispose();
  });

  it('stateDict round-trips into a fresh module (buffers included, tensors keep their identity)', async () => {
    const a = new Net(1);
    const x = w.fromArray(new w.Generator(5).uniform(2 * 2 * 5 * 5, -1, 1), [2, 2, 5, 5]);
    w.noGrad(() => a.forward(x)).dispose(); // moves the running statistics and the counter
    const b = new Net(2);
    const before = new Map(b.stateDict());
    expect((await values(b)).get('head.weight')).not.toEqual((await values(a)).get('head.weight'));
    expect(b.loadStateDict(a.stateDict())).toEqual({ missing: [], unexpected: [] });
    const va = await values(a);
    const vb = await values(b);
    expect(vb).toEqual(va);
    expect(vb.get('stem.1.num_batches_tracked')).toEqual([1]);
    for (const [k, t] of b.stateDict()) expect(t).toBe(before.get(k));
    // Same state, same function (eval mode: dropout off, running statistics).
    a.eval();
    b.eval();
    const [ya, yb] = w.noGrad(() => [a.forward(x), b.forward(x)]);
    expect(await yb!.data()).toEqual(await ya!.data());
    ya!.dispose();
    yb!.dispose();
    a.dispose();
    b.dispose();
    x.dispose();
  });

  it('loadStateDict: strict rejects missing and unexpected keys, non-strict reports them', async () => {
    const src = new Net(3);
    const dst = new Net(4);
    const orig = await values(dst);
    const missing = new Map(src.stateDict());
    missing.delete('head.bias');
    const extra = w.zeros([2]);
    const unexpected = new Map([...src.stateDict(), ['extra.weight', extra] as const]);

    let err: unknown;
    try {
      dst.loadStateDict(missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(w.StateDictError);
    expect((err as w.StateDictError).missing).toEqual(['head.bias']);
    expect((err as w.StateDictError).message).toMatch(/missing keys: head\.bias/);
    expect(() => dst.loadStateDict(unexpected)).toThrow(/unexpected keys: extra\.weight/);
    expect(await values(dst)).toEqual(orig);

    expect(dst.loadStateDict(missing, { strict: false })).toEqual({ missing: ['head.bias'], unexpected: [] });
    const loaded = await values(dst);
    const want = await values(src);
    expect(loaded.get('head.weight')).toEqual(want.get('head.weight'));
    expect(loaded.get('head.bias')).toEqual(orig.get('head.bias'));
    expect(dst.loadStateDict(unexpected, { strict: false })).toEqual({ missing: [], unexpected: ['extra.weight'] });
    expect(await values(dst)).toEqual(want);
    // A plain object works too.
    expect(dst.loadStateDict(Object.fromEntries(src.stateDict()))).toEqual({ missing: [], unexpected: [] });
    src.dispose();
    dst.dispose();
    extra.dispose();
  });

  it.each([true, false])('a shape or dtype mismatch throws StateDictError and writes nothing (strict %s)', async (strict) => {
    const src = new Net(5);
    const dst = new Net(6);
    const orig = await values(dst);
    const bad = w.zeros([3, 4, 3, 3]);
    const badCount = w.zeros([]); // f32 where the counter is i32
    const state = new Map(src.stateDict());
    state.set('head.weight', bad);
    let err: unknown;
    try {
      dst.loadStateDict(state, { strict });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(w.StateDictError);
    expect((err as w.StateDictError).mismatched).toEqual(['head.weight: [3,4,3,3] f32 vs [3,4,1,1] f32']);
    state.set('head.weight', src.head.weight);
    state.set('stem.1.num_batches_tracked', badCount);
    expect(() => dst.loadStateDict(state, { strict })).toThrow(/num_batches_tracked: \[\] f32 vs \[\] i32/);
    // Every other key was valid and different, and still nothing was written.
    expect(await values(dst)).toEqual(orig);
    src.dispose();
    dst.dispose();
    bad.dispose();
    badCount.dispose();
  });

  it('freeze/unfreeze by prefix: frozen parameters get no gradient and are not trainable', async () => {
    const net = new Net(7);
    net.stem.layers[3]!.eval(); // no dropout, so every trainable parameter gets a gradient
    const x = w.fromArray(new w.Generator(8).uniform(2 * 2 * 4 * 4, -1, 1), [2, 2, 4, 4]);
    net.freeze('stem');
    expect(net.namedParameters().filter(([, t]) => t.requiresGrad).map(([n]) => n)).toEqual(['scale', 'head.weight', 'head.bias']);
    expect(net.trainableParameters()).toEqual([net.scale, net.head.weight, net.head.bias]);
    expect(net.numParameters(true)).toBe(1 + 12 + 3);
    w.tidy(() => w.backward(w.sum(net.forward(x))));
    for (const [n, t] of net.namedParameters()) expect(t.grad === null, n).toBe(n.startsWith('stem'));
    net.zeroGrad();

    // Prefixes match whole dotted components: 'stem.1' is the batch norm only, 'ste' matches nothing.
    net.unfreeze('stem.1');
    expect(net.trainableParameters().length).toBe(5);
    net.freeze('ste');
    expect(net.trainableParameters().length).toBe(5);
    net.freeze('head.weight', 'scale');
    expect(net.namedParameters().filter(([, t]) => t.requiresGrad).map(([n]) => n)).toEqual(['stem.1.weight', 'stem.1.bias', 'head.bias']);
    w.tidy(() => w.backward(w.sum(net.forward(x))));
    for (const [n, t] of net.namedParameters()) expect(t.grad !== null, n).toBe(t.requiresGrad);
    net.zeroGrad();
    net.unfreeze();
    expect(net.trainableParameters()).toEqual(net.parameters());
    net.freeze();
    expect(net.trainableParameters()).toEqual([]);
    net.dispose();
    x.dispose();
  });

  it('train()/eval() reach every descendant; eval uses running statistics and no dropout', async () => {
    const net = new Net(9);
    expect(net.namedModules().every(([, m]) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(net.namedModules().every(([, m]) => !m.training)).toBe(true);
    net.train();
    expect(net.namedModules().every(([, m]) => m.training)).toBe(true);
    net.train(false);
    expect(net.stem.layers[3]!.training).toBe(false);

    // Eval output = head(relu(bn_eval(conv(x)))) * scale, with given running statistics.
    const bn = net.stem.layers[1] as w.BatchNorm2d;
    const rm = [0.1, -0.2, 0.3, 0];
    const rv = [0.5, 2, 1, 1.5];
    bn.loadStateDict({ running_mean: w.fromArray(rm), running_var: w.fromArray(rv) }, { strict: false });
    const x = w.fromArray(new w.Generator(10).uniform(2 * 2 * 4 * 4, -1, 1), [2, 2, 4, 4]);
    const conv = net.stem.layers[0]!.forward(x);
    const bnW = ND.from(await bn.weight!.data(), [4]);
    const bnB = ND.from(await bn.bias!.data(), [4]);
    const ref = RN.batchNorm(ND.from(await conv.data(), conv.shape), bnW, bnB, { runningMean: rm, runningVar: rv, training: false }).y;
    const bnOut = bn.forward(conv);
    expectClose(await bnOut.data(), ref.data, 1e-5, 1e-4, 'batch norm (eval)');
    const dropOut = net.stem.layers[3]!.forward(bnOut);
    expect(dropOut).toBe(bnOut);
    expectClose(await bn.runningMean.data(), rm.map(Math.fround), 0, 0, 'running mean untouched in eval');
    expect(await bn.numBatchesTracked.toArray()).toEqual([0]);
    for (const t of [x, conv, bnOut]) t.dispose();
    net.dispose();
  });

  it('BatchNorm2d in training mode matches the reference, updates running statistics, counts batches on the GPU', async () => {
    const bn = new w.BatchNorm2d(3, { momentum: 0.2 });
    bn.loadStateDict({ weight: w.fromArray([1.5, 0.5, -1]), bias: w.fromArray([0, 1, 2]) }, { strict: false });
    const xs = new w.Generator(12).uniform(2 * 3 * 4 * 5, -2, 2);
    const x = w.fromArray(xs, [2, 3, 4, 5]);
    const ref = RN.batchNorm(ND.from(xs, [2, 3, 4, 5]), ND.from([1.5, 0.5, -1], [3]), ND.from([0, 1, 2], [3]), {
      runningMean: [0, 0, 0],
      runningVar: [1, 1, 1],
      training: true,
      momentum: 0.2,
    });
    w.flush();
    const submits = w.runtime().submitCount;
    const y = bn.forward(x);
    const y2 = bn.forward(x);
    const y3 = bn.forward(x);
    // No readback, no submit: the counter is incremented in stream order.
    expect(w.runtime().submitCount).toBe(submits);
    expectClose(await y.data(), ref.y.data, 2e-5, 1e-4, 'output');
    expect(await bn.numBatchesTracked.toArray()).toEqual([3]);
    expect(bn.numBatchesTracked.dtype).toBe('i32');
    // Three identical batches: r <- 0.8 r + 0.2 s, three times.
    const m3 = ref.mean.map((s) => s * (1 - 0.8 ** 3));
    expectClose(await bn.runningMean.data(), m3, 1e-6, 1e-5, 'running mean');
    bn.eval();
    bn.forward(x).dispose();
    expect(await bn.numBatchesTracked.toArray()).toEqual([3]);
    bn.train();
    bn.loadStateDict({ num_batches_tracked: w.fromArray(Int32Array.from([41]), []) }, { strict: false });
    bn.forward(x).dispose();
    expect(await bn.numBatchesTracked.toArray()).toEqual([42]);
    for (const t of [x, y, y2, y3]) t.dispose();
    bn.dispose();
  });
});
