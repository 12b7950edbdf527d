import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as RC from '../reference/conv.js';
import { ND, map } from '../reference/ndarray.js';

interface Case {
  x: [number, number, number, number];
  o: number;
  k: [number, number];
  stride?: [number, number];
  pad?: [number, number, number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}

const cases: Case[] = [
  { x: [1, 1, 5, 5], o: 1, k: [3, 3] },
  { x: [2, 3, 7, 6], o: 4, k: [3, 3], pad: [1, 1, 1, 1], bias: true },
  { x: [1, 4, 9, 8], o: 6, k: [3, 2], stride: [2, 2], pad: [0, 1, 2, 1], bias: true },
  { x: [3, 2, 11, 10], o: 5, k: [3, 3], stride: [3, 2], pad: [1, 1, 1, 1], dilation: [2, 1] },
  { x: [2, 4, 6, 7], o: 6, k: [3, 3], pad: [2, 2, 2, 2], dilation: [2, 2], groups: 2, bias: true },
  { x: [2, 6, 5, 5], o: 6, k: [3, 3], pad: [1, 1, 1, 1], groups: 6 },
  { x: [2, 5, 4, 3], o: 7, k: [1, 1], bias: true },
  { x: [1, 3, 8, 8], o: 9, k: [1, 1], stride: [2, 2] },
];

function opts(c: Case): w.Conv2dOptions {
  return { stride: c.stride, padding: c.pad, dilation: c.dilation, groups: c.groups };
}

describe.each(devices())('conv2d on %s', () => {
  it.each(cases)('matches the float64 reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    const shapes = [c.x, [c.o, c.x[1] / g, c.k[0], c.k[1]], ...(c.bias ? [[c.o]] : [])];
    await checkOp({
      inputs: shapes,
      fn: (x, wt, b) => w.conv2d(x!, wt!, b ?? null, opts(c)),
      ref: (x, wt, b) => RC.conv2d(x!, wt!, b ?? null, { stride: c.stride, pad: c.pad, dilation: c.dilation, groups: c.groups }),
      gradOpts: { maxProbes: 12 },
    });
  });

  it('fuses bias, residual and ReLU', async () => {
    const c: Case = { x: [2, 3, 6, 5], o: 4, k: [3, 3], pad: [1, 1, 1, 1] };
    await checkOp({
      inputs: [c.x, [4, 3, 3, 3], [4], [2, 4, 6, 5]],
      fn: (x, wt, b, r) => w.conv2d(x!, wt!, b!, { padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const y = RC.conv2d(x!, wt!, b!, { pad: [1, 1, 1, 1] });
        return map(new ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      // A small step keeps finite differences from straddling the ReLU kink.
      gradOpts: { maxProbes: 12, eps: 1e-3, atol: 5e-3 },
    });
  });

  it('rejects bad shapes with typed errors', () => {
    const x = w.zeros([1, 4, 5, 5]);
    expect(() => w.conv2d(x, w.zeros([2, 3, 3, 3]))).toThrow(w.ShapeError);
    expect(() => w.conv2d(x, w.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/divisible by groups/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 7, 7]))).toThrow(/larger than the padded input/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 3, 3]), w.zeros([3]))).toThrow(/bias must have shape/);
    expect(() => w.conv2d(x, w.zeros([2, 4, 3, 3]), null, { stride: 0 })).toThrow(w.ArgumentError);
  });
});

interface TCase {
  x: [number, number, number, number];
  cout: number;
  k: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  outputPadding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}

const tcases: TCase[] = [
  { x: [1, 2, 4, 4], cout: 3, k: [3, 3] },
  { x: [2, 3, 5, 4], cout: 2, k: [3, 3], stride: [2, 2], padding: [1, 1], outputPadding: [1, 0], bias: true },
  { x: [1, 4, 3, 5], cout: 6, k: [2, 3], stride: [2, 3], dilation: [2, 1], groups: 2 },
  { x: [2, 2, 4, 4], cout: 2, k: [4, 4], stride: [2, 2], padding: [1, 1], bias: true },
];

describe.each(devices())('convTranspose2d on %s', () => {
  it.each(tcases)('matches the float64 reference and finite differences: %j', async (c) => {
    const g = c.groups ?? 1;
    const o = { stride: c.stride, padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups };
    await checkOp({
      inputs: [c.x, [c.x[1], c.cout / g, c.k[0], c.k[1]], ...(c.bias ? [[c.cout]] : [])],
      fn: (x, wt, b) => w.convTranspose2d(x!, wt!, b ?? null, o),
      ref: (x, wt, b) => RC.convTranspose2d(x!, wt!, b ?? null, o),
      gradOpts: { maxProbes: 12 },
    });
  });
});
