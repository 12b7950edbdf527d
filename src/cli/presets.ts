/**
 * Named run configurations for `webmtl train --preset NAME`. `demo` is what `npm run demo` runs: a
 * shared-encoder ResNet-18 (quarter width) learning segmentation, depth, normals and edges on the
 * built-in synthetic scenes with GradNorm, sized to finish in minutes on a 2-core machine with a
 * software WebGPU adapter. `smoke` is a seconds-long run for tests. The dataset presets train on
 * NYUD-v2 / PASCAL-Context files on disk (give `--set data.root=...`): `nyud-resnet18` and
 * `pascal-resnet18` are CPU-friendlier versions, and presets-survey.ts holds the survey's own
 * setups (`nyud-resnet50-*`, `nyud-hrnet18-*`, `pascal-hrnet18-*`), sized for a real GPU.
 */
import { ArgumentError } from '../errors.js';
import type { RunConfigInput } from './config.js';
import { SURVEY_PRESETS } from './presets-survey.js';

const demo: RunConfigInput = {
  name: 'demo',
  seed: 0,
  data: { kind: 'synthetic', size: 64, trainSamples: 768, valSamples: 96 },
  tasks: ['semseg', 'depth', 'normals', 'edge'],
  taskWeights: {},
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.25, outputStride: 8, head: 'conv' },
  balancer: { method: 'gradnorm', alpha: 1.5 },
  optimizer: { kind: 'adam', lr: 0.002 },
  schedule: { kind: 'poly', warmupSteps: 50 },
  train: { epochs: 8, batchSize: 8, logEvery: 10, reportSamples: 4 },
};

const smoke: RunConfigInput = {
  name: 'smoke',
  seed: 0,
  data: { kind: 'synthetic', size: 32, trainSamples: 8, valSamples: 4 },
  tasks: ['semseg', 'depth', 'normals', 'edge'],
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, outputStride: 32, head: 'conv' },
  balancer: { method: 'gradnorm', alpha: 1.5 },
  optimizer: { kind: 'adam', lr: 0.002 },
  train: { epochs: 2, batchSize: 4, logEvery: 1, reportSamples: 2 },
};

const nyud: RunConfigInput = {
  name: 'nyud-resnet18',
  seed: 0,
  data: { kind: 'nyud', root: 'data/NYUD_MT', size: [480, 640], augment: true },
  tasks: ['semseg', 'depth', 'normals', 'edge'],
  // The survey's NYUD loss weights (configs/nyud: semseg 1, depth 1, normals 10, edge 50).
  taskWeights: { semseg: 1, depth: 1, normals: 10, edge: 50 },
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 1, outputStride: 8, head: 'aspp' },
  balancer: { method: 'fixed' },
  optimizer: { kind: 'adam', lr: 0.0001, weightDecay: 0.0001 },
  schedule: { kind: 'poly' },
  train: { epochs: 100, batchSize: 8 },
};

const pascal: RunConfigInput = {
  name: 'pascal-resnet18',
  seed: 0,
  data: { kind: 'pascal-context', root: 'data/PASCAL_MT', size: 512, augment: true },
  tasks: ['semseg', 'human_parts', 'sal', 'normals', 'edge'],
  // The survey's PASCAL loss weights (semseg 1, human_parts 2, sal 5, normals 10, edge 50).
  taskWeights: { semseg: 1, human_parts: 2, sal: 5, normals: 10, edge: 50 },
  model: { arch: 'shared-encoder', backbone: 'resnet18', width: 1, outputStride: 8, head: 'aspp' },
  balancer: { method: 'fixed' },
  optimizer: { kind: 'adam', lr: 0.0001, weightDecay: 0.0001 },
  schedule: { kind: 'poly' },
  train: { epochs: 60, batchSize: 8 },
};

/** Preset name -> configuration. */
export const PRESETS: Readonly<Record<string, RunConfigInput>> = {
  demo,
  smoke,
  'nyud-resnet18': nyud,
  'pascal-resnet18': pascal,
  ...Object.fromEntries(Object.entries(SURVEY_PRESETS).map(([k, v]) => [k, v.config])),
};

/** One line per preset, for the list a command prints when it is given no configuration. */
export const PRESET_SUMMARIES: Readonly<Record<keyof typeof PRESETS & string, string>> = {
  demo: 'what `npm run demo` runs: 4 tasks on synthetic 64x64 scenes, GradNorm, 768 steps (minutes on 2 cores)',
  smoke: 'a seconds-long 4-task run on 32x32 scenes, for checking a set-up',
  'nyud-resnet18': "the survey's NYUD-v2 setup on ResNet-18 (needs --set data.root=<NYUD_MT folder>)",
  'pascal-resnet18': "the survey's PASCAL-Context setup on ResNet-18 (needs --set data.root=<PASCAL_MT folder>)",
  ...Object.fromEntries(Object.entries(SURVEY_PRESETS).map(([k, v]) => [k, v.summary])),
};

/** The presets with their summaries, one per line (for messages). */
export function listPresets(): string {
  return Object.keys(PRESETS)
    .map((n) => `  ${n.padEnd(27)} ${PRESET_SUMMARIES[n] ?? ''}`.trimEnd())
    .join('\n');
}

/** The preset called `name`, or an error listing the valid names. */
export function preset(name: string): RunConfigInput {
  const p = PRESETS[name];
  if (!p) throw new ArgumentError('--preset', `unknown preset '${name}'; valid presets: ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(p);
}
