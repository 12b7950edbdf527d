/**
 * Loss balancing: the Balancer interface, the balancers (fixed/equal weights, uncertainty, DWA,
 * GradNorm, PCGrad, MGDA-UB, CAGrad) and `createBalancer`, which builds one from a typed spec.
 */
import { ArgumentError } from '../../errors.js';
import type { Balancer } from './balancer.js';
import { CAGrad, type CagradOptions } from './cagrad.js';
import { DynamicWeightAverage, type DwaOptions } from './dwa.js';
import { FixedWeights, equalWeights } from './fixed.js';
import { GradNorm, type GradNormOptions } from './gradnorm.js';
import { MGDA, type MgdaOptions } from './mgda.js';
import { PCGrad, type PCGradOptions } from './pcgrad.js';
import { UncertaintyWeighting } from './uncertainty.js';

export * from './balancer.js';
export * from './fixed.js';
export * from './uncertainty.js';
export * from './dwa.js';
export * from './gradnorm.js';
export * from './pcgrad.js';
export * from './mgda.js';
export * from './cagrad.js';

/** A balancer described by its method name and that method's options. */
export type BalancerSpec =
  | { method: 'equal' }
  | { method: 'fixed'; weights: readonly number[] | Readonly<Record<string, number>> }
  | { method: 'uncertainty' }
  | ({ method: 'dwa' } & DwaOptions)
  | ({ method: 'gradnorm' } & GradNormOptions)
  | ({ method: 'pcgrad' } & PCGradOptions)
  | ({ method: 'mgda' } & MgdaOptions)
  | ({ method: 'cagrad' } & CagradOptions);

/** The method names. */
export type BalanceMethod = BalancerSpec['method'];

type SpecOf<K extends BalanceMethod> = Extract<BalancerSpec, { method: K }>;

interface Entry<K extends BalanceMethod> {
  /** Option keys the spec may carry besides `method`. */
  readonly options: readonly Exclude<keyof SpecOf<K>, 'method'>[];
  readonly create: (tasks: readonly string[], spec: SpecOf<K>) => Balancer;
}

/** How each method is built; a method missing here does not compile. */
const METHODS: { [K in BalanceMethod]: Entry<K> } = {
  equal: { options: [], create: (tasks) => equalWeights(tasks) },
  fixed: { options: ['weights'], create: (tasks, s) => new FixedWeights(tasks, s.weights) },
  uncertainty: { options: [], create: (tasks) => new UncertaintyWeighting(tasks) },
  dwa: { options: ['temperature'], create: (tasks, s) => new DynamicWeightAverage(tasks, { temperature: s.temperature }) },
  gradnorm: {
    options: ['alpha', 'lr', 'optimizer', 'initialLosses', 'minWeight'],
    create: (tasks, s) => new GradNorm(tasks, { alpha: s.alpha, lr: s.lr, optimizer: s.optimizer, initialLosses: s.initialLosses, minWeight: s.minWeight }),
  },
  pcgrad: { options: ['mode', 'seed'], create: (tasks, s) => new PCGrad(tasks, { mode: s.mode, seed: s.seed }) },
  mgda: { options: ['normalization', 'mode'], create: (tasks, s) => new MGDA(tasks, { normalization: s.normalization, mode: s.mode }) },
  cagrad: { options: ['c', 'rescale'], create: (tasks, s) => new CAGrad(tasks, { c: s.c, rescale: s.rescale }) },
};

/** The method names createBalancer accepts. */
export const BALANCE_METHODS = Object.keys(METHODS) as BalanceMethod[];

/**
 * Builds the balancer `spec` describes for `tasks` (task names in the model's order). Unknown
 * methods, and options the method does not have, are rejected with an ArgumentError that lists the
 * valid ones; each balancer then checks its option values.
 */
export function createBalancer(spec: BalancerSpec, tasks: readonly string[]): Balancer {
  const method = (spec as { method?: unknown } | null)?.method;
  if (typeof method !== 'string' || !(method in METHODS)) {
    throw new ArgumentError('createBalancer', `unknown method ${JSON.stringify(method)} (valid: ${BALANCE_METHODS.join(', ')})`);
  }
  const entry = METHODS[method as BalanceMethod] as Entry<BalanceMethod>;
  const known = entry.options as readonly string[];
  for (const k of Object.keys(spec)) {
    if (k !== 'method' && !known.includes(k)) {
      throw new ArgumentError('createBalancer', `method '${method}' has no option '${k}' (valid: ${known.join(', ') || 'none'})`);
    }
  }
  return entry.create(tasks, spec as SpecOf<BalanceMethod>);
}
