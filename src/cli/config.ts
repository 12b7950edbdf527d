/**
 * The run configuration of `webmtl train`: what to train (model x tasks x balancer x optimiser x
 * data) and for how long. Validated with zod strict objects, so a typo in a key is an error that
 * names the key rather than a silently ignored setting. The model and balancer sections are checked
 * by their own factories (createModel, createBalancer), which also reject unknown keys.
 */
import { z } from 'zod';
import { ArgumentError } from '../errors.js';
import { backboneConfig } from './pretrained-backbone.js';

const TASK_NAMES = ['semseg', 'depth', 'normals', 'edge', 'sal', 'human_parts'] as const;
/** Task names a run can train (the keys of the datasets' samples). */
export type RunTask = (typeof TASK_NAMES)[number];

const size = z.union([z.number().int().min(32), z.tuple([z.number().int().min(32), z.number().int().min(32)])]);

const syntheticData = z.strictObject({
  kind: z.literal('synthetic'),
  /** Image size (square, or [h, w]). */
  size,
  trainSamples: z.number().int().min(1),
  valSamples: z.number().int().min(1),
  /** Keep generated samples in memory (default true: the same scenes every epoch cost nothing to redo). */
  cache: z.boolean().default(true),
});

const fileData = z.strictObject({
  kind: z.enum(['nyud', 'pascal-context']),
  /** Folder in the layout of the MTL survey's public code. */
  root: z.string().min(1),
  /** Training crop size (square, or [h, w]). */
  size,
  /** Use only the first N samples of each split (for quick runs); default all. */
  limit: z.number().int().min(1).optional(),
  augment: z.boolean().default(true),
});

const optimizer = z.strictObject({
  kind: z.enum(['adam', 'adamw', 'sgd']),
  lr: z.number().positive(),
  weightDecay: z.number().min(0).default(0),
  momentum: z.number().min(0).max(1).default(0.9),
});

const schedule = z.strictObject({
  kind: z.enum(['constant', 'poly', 'cosine']),
  /** Warm-up steps with a linearly rising learning rate (default 0). */
  warmupSteps: z.number().int().min(0).default(0),
});

const train = z.strictObject({
  epochs: z.number().int().min(1),
  batchSize: z.number().int().min(1),
  /** Steps between loss readbacks and progress updates. */
  logEvery: z.number().int().min(1).default(10),
  /** Validation every N epochs (and always after the last). */
  evalEvery: z.number().int().min(1).default(1),
  /** Checkpoint every N epochs (and on Ctrl-C and at the end). */
  checkpointEvery: z.number().int().min(1).default(1),
  /** Samples drawn into the report's image grid. */
  reportSamples: z.number().int().min(0).max(32).default(4),
  /** Batches prepared ahead of the GPU. */
  prefetch: z.number().int().min(0).default(2),
  /** Worker threads preparing training batches (0: the main thread; bit-identical either way). */
  workers: z.number().int().min(0).max(16).default(0),
  /**
   * Gradient checkpointing of the backbone stages: keep only each stage's input for backward and
   * run the stage again there (less activation memory, one more backbone forward per step).
   */
  recompute: z.boolean().default(false),
});

/** The whole run configuration (see the file comment). */
export const runConfigSchema = z.strictObject({
  /** Name of the run (the run folder's default name). */
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only')
    .refine((n) => n !== '.' && n !== '..', "must not be '.' or '..' (it names the folder under runs/)"),
  seed: z.number().int().min(0).default(0),
  data: z.discriminatedUnion('kind', [syntheticData, fileData]),
  tasks: z.array(z.enum(TASK_NAMES)).min(1).refine((t) => new Set(t).size === t.length, 'tasks must not repeat'),
  /** Per-task loss weights for the fixed balancer and the task definitions (default 1). */
  taskWeights: z.partialRecord(z.enum(TASK_NAMES), z.number().min(0)).default({}),
  /** createModel spec: {arch, backbone, width, outputStride, head, ...}; backbone may be {name, pretrained} (pretrained-backbone.ts). */
  model: z.looseObject({ arch: z.string(), backbone: backboneConfig.optional() }),
  /** createBalancer spec: {method, ...}. */
  balancer: z.looseObject({ method: z.string() }),
  optimizer,
  schedule: schedule.default({ kind: 'constant', warmupSteps: 0 }),
  train,
});

/** A validated run configuration. */
export type RunConfig = z.output<typeof runConfigSchema>;
/** A run configuration as written in a file (defaults may be left out). */
export type RunConfigInput = z.input<typeof runConfigSchema>;

/** Raised for an invalid configuration; the message lists every problem with its key path. */
export class ConfigError extends ArgumentError {
  constructor(
    source: string,
    readonly problems: readonly string[],
  ) {
    super('config', `${source} is invalid:\n  ${problems.join('\n  ')}`);
  }
}

/** Validates `value` as a run configuration (defaults filled in); ConfigError otherwise. */
export function parseConfig(value: unknown, source = 'the configuration'): RunConfig {
  const r = runConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const path = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') return `${path}: unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${path}: ${i.message}`;
  });
  throw new ConfigError(source, problems);
}

/**
 * Applies `key.path=value` overrides (value parsed as JSON when it parses, else a string) to a plain
 * config object, creating intermediate objects; returns a new object. The result still needs
 * parseConfig, which rejects keys that do not exist.
 */
export function applyOverrides(base: unknown, overrides: readonly string[]): unknown {
  const out = structuredClone(base) as Record<string, unknown>;
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ArgumentError('--set', `expected key.path=value, got '${o}'`);
    const path = o.slice(0, eq).split('.');
    // Keys that reach an object's prototype are never configuration keys.
    const bad = path.find((k) => k === '__proto__' || k === 'constructor' || k === 'prototype');
    if (bad) throw new ArgumentError('--set', `'${o}': '${bad}' is not a configuration key`);
    const raw = o.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = out;
    for (const k of path.slice(0, -1)) {
      const next = node[k];
      if (next === undefined) node[k] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        throw new ArgumentError('--set', `'${o}': '${k}' is not an object`);
      }
      node = node[k] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  return out;
}
