// Integrity of the committed PyTorch fixtures (no ops needed): every tensor's data matches its shape,
// float data are finite, every case has an output, an upstream gradient and input gradients.
import { describe, expect, it } from 'vitest';
import {
  FIXTURE_FAMILIES,
  loadFixtures,
  relErr,
  shapeSize,
  type FixtureCase,
  type FixtureTensor,
} from './helpers/fixtures.js';

function checkTensor(t: FixtureTensor | undefined, what: string): void {
  expect(t, `${what}: missing`).toBeDefined();
  const { shape, data, dtype } = t!;
  expect(Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0), `${what}: shape ${shape}`).toBe(true);
  expect(data.length, `${what}: data length for shape [${shape}]`).toBe(shapeSize(shape));
  if (dtype === 'int32') {
    expect(data.every((v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31), `${what}: int32 data`).toBe(true);
  } else {
    expect(dtype === undefined || dtype === 'float32', `${what}: dtype ${dtype}`).toBe(true);
    expect(data.every((v) => Number.isFinite(v)), `${what}: finite data`).toBe(true);
  }
}

function checkCase(c: FixtureCase): void {
  expect(typeof c.op === 'string' && c.op.length > 0, `${c.name}: op`).toBe(true);
  expect(typeof c.params, `${c.name}: params`).toBe('object');
  expect(Object.keys(c.inputs).length, `${c.name}: inputs`).toBeGreaterThan(0);
  for (const [k, t] of Object.entries(c.inputs)) checkTensor(t, `${c.name}.inputs.${k}`);
  checkTensor(c.output, `${c.name}.output`);
  checkTensor(c.grad_output, `${c.name}.grad_output`);
  expect(c.grad_output.shape, `${c.name}: grad_output shape`).toEqual(c.output.shape);
  const gradNames = Object.keys(c.grads);
  expect(gradNames.length, `${c.name}: grads`).toBeGreaterThan(0);
  for (const k of gradNames) {
    checkTensor(c.grads[k], `${c.name}.grads.${k}`);
    expect(c.inputs[k], `${c.name}: grad for unknown input ${k}`).toBeDefined();
    expect(c.grads[k]!.shape, `${c.name}: grads.${k} shape`).toEqual(c.inputs[k]!.shape);
    expect(c.inputs[k]!.dtype, `${c.name}: integer input ${k} has a gradient`).not.toBe('int32');
  }
  if (c.op === 'max_pool2d') {
    checkTensor(c.indices, `${c.name}.indices`);
    expect(c.indices!.shape).toEqual(c.output.shape);
  }
  if (c.op === 'batch_norm') {
    checkTensor(c.running_mean_after, `${c.name}.running_mean_after`);
    checkTensor(c.running_var_after, `${c.name}.running_var_after`);
  }
  if (c.op === 'cross_entropy') {
    expect(c.inputs.target!.dtype).toBe('int32');
    expect(c.inputs.target!.data, `${c.name}: ignore_index present`).toContain(255);
  }
  if (c.op.endsWith('_masked') || c.op.startsWith('normal_loss')) {
    expect(typeof c.params.definition, `${c.name}: params.definition`).toBe('string');
  }
}

describe.each(FIXTURE_FAMILIES)('fixtures %s', (family) => {
  it('loads, with unique case names and well-formed tensors', () => {
    const cases = loadFixtures(family);
    expect(cases.length).toBeGreaterThan(0);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    for (const c of cases) checkCase(c);
  });
});

describe('relErr', () => {
  it('scales the worst absolute error by the largest reference magnitude', () => {
    expect(relErr([1, 2, 4.5], [1, 2, 4])).toBeCloseTo(0.125, 12);
    expect(relErr([0, 0], [0, 0])).toBe(0);
    expect(relErr([1e-7], [0])).toBeCloseTo(0.1, 12);
    expect(relErr([Number.NaN], [1])).toBe(Infinity);
    expect(() => relErr([1], [1, 2])).toThrow();
  });
});
