/**
 * Shared by the backbone and head tests: the numeric cases of test/fixtures/backbones.json
 * (written by scripts/fixtures/make_backbone_fixtures.py from torch/torchvision in float64) and one
 * runner that loads a case's torch state dict into a module and compares output, gradients and
 * running statistics.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import * as w from '../../src/index.js';
import { FIXTURE_TOLERANCE, relErr, type FixtureTensor } from '../helpers/fixtures.js';

/** One numeric case: a module config, its torch state, inputs, output and gradients. */
export interface NumericCase<C = Record<string, number | number[]>> {
  name: string;
  kind: string;
  config: C;
  training: boolean;
  state: Record<string, FixtureTensor>;
  inputs: Record<string, FixtureTensor>;
  output: FixtureTensor;
  grad_output: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  state_after?: Record<string, FixtureTensor>;
}

/** The parsed backbones.json (typed by each caller). */
export function backboneFixtures<T>(): T {
  return JSON.parse(readFileSync(new URL('../fixtures/backbones.json', import.meta.url), 'utf8')) as T;
}

/** A fixture tensor on the GPU (f32). */
export const tensorOf = (f: FixtureTensor, requiresGrad = false) => w.fromArray(Float32Array.from(f.data), f.shape, { requiresGrad });

/** Loads a fixture state (torchvision names) into m; only num_batches_tracked may be missing. */
export function loadCaseState(m: w.Module, state: Record<string, FixtureTensor>): void {
  const tensors = new Map(Object.entries(state).map(([k, v]) => [k, tensorOf(v)]));
  const res = m.loadStateDict(tensors, { strict: false });
  for (const t of tensors.values()) t.dispose();
  expect(res.unexpected).toEqual([]);
  expect(res.missing.filter((k) => !k.endsWith('num_batches_tracked'))).toEqual([]);
}

/**
 * Runs a fixture case through `m`: output, input and parameter gradients, running statistics after
 * the step. With `everyParam`, the case must hold a gradient for every parameter of m. Disposes m.
 */
export async function checkNumericCase<C>(
  c: NumericCase<C>,
  m: w.Module,
  forward: (xs: Record<string, w.Tensor>) => w.Tensor,
  opts: { everyParam?: boolean } = {},
): Promise<void> {
  loadCaseState(m, c.state);
  m.train(c.training);
  const xs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tensorOf(v, true)]));
  const y = forward(xs);
  expect(y.shape).toEqual(c.output.shape);
  expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
  const gy = tensorOf(c.grad_output);
  w.backward(y, gy);
  const params = new Map(m.namedParameters());
  if (opts.everyParam) expect(params.size).toBe(Object.keys(c.grads).length - Object.keys(c.inputs).length);
  for (const [k, g] of Object.entries(c.grads)) {
    const t = xs[k] ?? params.get(k);
    expect(t, k).toBeDefined();
    expect(t!.grad, `grad of ${k}`).not.toBeNull();
    expect(relErr(await t!.grad!.data(), g.data), `grad of ${k}`).toBeLessThan(FIXTURE_TOLERANCE);
  }
  const buffers = new Map(m.namedBuffers());
  for (const [k, v] of Object.entries(c.state_after ?? {})) {
    expect(relErr(await buffers.get(k)!.data(), v.data), `${k} after`).toBeLessThan(FIXTURE_TOLERANCE);
  }
  for (const t of [...Object.values(xs), y, gy]) t.dispose();
  m.dispose();
}
