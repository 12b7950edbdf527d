/**
 * Loader and helpers for test/fixtures/optim.json (written by scripts/fixtures/make_optim_fixtures.py;
 * format in scripts/fixtures/README.md): optimiser runs, clip_grad_norm_ calls and schedule lr
 * sequences computed by PyTorch 1.13.
 */
import { readFileSync } from 'node:fs';
import * as w from '../../src/index.js';
import type { FixtureTensor } from '../helpers/fixtures.js';

/** Torch keyword arguments as stored (torch names). */
export type TorchKwargs = Record<string, number | boolean | number[]>;

export interface OptimizerCase {
  name: string;
  kind: 'optimizer';
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  defaults: TorchKwargs;
  groups: ({ params: number[] } & TorchKwargs)[];
  params: FixtureTensor[];
  steps: { grads: (FixtureTensor | null)[]; params_after: FixtureTensor[] }[];
}

export interface ClipCase {
  name: string;
  kind: 'clip';
  max_norm: number;
  norm_type: number | 'inf';
  grads: (FixtureTensor | null)[];
  total_norm: FixtureTensor;
  clipped: (FixtureTensor | null)[];
}

/** The engine's schedule: `fn` names the function in src/optim/schedules.ts, the rest its options. */
export interface ScheduleSpec {
  fn: 'constantLR' | 'stepLR' | 'multiStepLR' | 'polyLR' | 'cosineLR' | 'linearWarmup';
  inner?: ScheduleSpec;
  [option: string]: unknown;
}

export interface ScheduleCase {
  name: string;
  kind: 'schedule';
  schedule: ScheduleSpec;
  base_lrs: number[];
  lrs: number[][];
}

export type OptimCase = OptimizerCase | ClipCase | ScheduleCase;

let cases: OptimCase[] | null = null;

/** All cases of optim.json, in file order (read once). */
export function optimFixtures(): OptimCase[] {
  if (!cases) {
    const text = readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8');
    cases = (JSON.parse(text) as { cases: OptimCase[] }).cases;
  }
  return cases;
}

export const optimizerCases = (): OptimizerCase[] => optimFixtures().filter((c): c is OptimizerCase => c.kind === 'optimizer');
export const clipCases = (): ClipCase[] => optimFixtures().filter((c): c is ClipCase => c.kind === 'clip');
export const scheduleCases = (): ScheduleCase[] => optimFixtures().filter((c): c is ScheduleCase => c.kind === 'schedule');

const RENAME: Record<string, string> = { weight_decay: 'weightDecay' };

/** Torch kwargs -> the engine's option names (weight_decay -> weightDecay; the rest are equal). */
export function engineOptions(kw: TorchKwargs): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kw).map(([k, v]) => [RENAME[k] ?? k, v]));
}

/** A fixture tensor as a GPU tensor (a parameter when `param`). */
export function toTensor(t: FixtureTensor, param = false): w.Tensor {
  return w.fromArray(t.data, t.shape, { requiresGrad: param });
}

/** The optimiser a case describes, over `params` (tensors in the case's order). */
export function makeOptimizer(c: OptimizerCase, params: w.Tensor[]): w.SGD | w.Adam | w.AdamW {
  const groups = c.groups.map(({ params: idx, ...over }) => ({ params: idx.map((i) => params[i]!), ...engineOptions(over) }));
  const defaults = engineOptions(c.defaults);
  if (c.optimizer === 'SGD') return new w.SGD(groups, defaults as unknown as w.SGDOptions);
  if (c.optimizer === 'Adam') return new w.Adam(groups, defaults as w.AdamOptions);
  return new w.AdamW(groups, defaults as w.AdamOptions);
}

/** Sets each parameter's `.grad` for one fixture step (null entries leave it without a gradient). */
export function setGrads(params: w.Tensor[], grads: (FixtureTensor | null)[]): void {
  params.forEach((p, i) => {
    p.grad?.dispose();
    const g = grads[i];
    p.grad = g ? w.keep(toTensor(g)) : null;
  });
}

/** The engine schedule a fixture spec describes. */
export function makeSchedule(s: ScheduleSpec): w.Schedule {
  // The spec carries each function's options under their own names; the functions validate them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const o = s as any;
  switch (s.fn) {
    case 'constantLR':
      return w.constantLR();
    case 'stepLR':
      return w.stepLR(o);
    case 'multiStepLR':
      return w.multiStepLR(o);
    case 'polyLR':
      return w.polyLR(o);
    case 'cosineLR':
      return w.cosineLR(o);
    case 'linearWarmup':
      return w.linearWarmup(makeSchedule(s.inner!), o);
  }
}
