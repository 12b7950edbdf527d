/**
 * The architectures every export check covers, built small (eighth-width ResNets, 32 x 32 inputs)
 * with batch-norm statistics and affine parameters set to seeded random values, so that eval-mode
 * outputs depend on every parameter and buffer (and on eps) and not on the default 0 / 1 statistics.
 */
import * as w from '../../src/index.js';
import { overwrite } from '../../src/nn/backbones/reinit.js';

/** One architecture of the export checks: a createModel spec. */
export interface ExportCase {
  name: string;
  spec: w.ModelSpec;
}

/** Two tasks of different widths (a 5-class map and a 1-channel map). */
export const TASKS: w.TaskSpec[] = [
  { name: 'semseg', channels: 5 },
  { name: 'depth', channels: 1 },
];

/** Every architecture, with the heads and backbones worth covering (Bottleneck, dilation, FPN). */
export const CASES: readonly ExportCase[] = [
  { name: 'shared-conv', spec: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, head: 'conv', seed: 1 } },
  { name: 'shared-aspp-os16', spec: { arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, outputStride: 16, head: 'aspp', seed: 2 } },
  { name: 'shared-fpn-r50', spec: { arch: 'shared-encoder', backbone: 'resnet50', width: 0.0625, outputStride: 32, head: 'fpn', seed: 3 } },
  { name: 'single-task', spec: { arch: 'single-task', backbone: 'resnet18', width: 0.125, head: 'conv', seed: 4 } },
  { name: 'cross-stitch', spec: { arch: 'cross-stitch', backbone: 'resnet18', width: 0.125, head: 'conv', seed: 5 } },
  { name: 'nddr', spec: { arch: 'nddr', backbone: 'resnet18', width: 0.125, head: 'conv', seed: 6 } },
  { name: 'mtan', spec: { arch: 'mtan', backbone: 'resnet18', width: 0.125, outputStride: 16, head: 'conv', seed: 7 } },
  { name: 'pad-net', spec: { arch: 'pad-net', backbone: 'resnet18', width: 0.125, seed: 8 } },
  { name: 'mti-net', spec: { arch: 'mti-net', backbone: 'resnet18', width: 0.125, seed: 9 } },
];

/** The tasks of a case (single-task models take the first only). */
export function tasksOf(c: ExportCase): w.TaskSpec[] {
  return c.spec.arch === 'single-task' ? TASKS.slice(0, 1) : TASKS;
}

/** Sets every BatchNorm2d's statistics and affine parameters to seeded random values. */
export function randomizeNorms(model: w.Module, seed: number): void {
  const g = new w.Generator(seed);
  const fill = (t: w.Tensor | null, lo: number, hi: number) => t && overwrite(t, Float32Array.from(g.uniform(t.size, lo, hi)));
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof w.BatchNorm2d)) continue;
    fill(m.runningMean, -0.2, 0.2);
    fill(m.runningVar, 0.02, 1.5);
    fill(m.weight, 0.5, 1.5);
    fill(m.bias, -0.2, 0.2);
  }
}

/** The case's model, built, with random norms, in eval mode. */
export function buildCase(c: ExportCase): w.MultiTaskModel {
  const model = w.createModel(c.spec, tasksOf(c));
  randomizeNorms(model, 100 + (c.spec.seed ?? 0));
  return model.eval();
}

/** The input every check feeds: [2, 3, 32, 32], seeded. */
export function caseInput(): w.Tensor {
  const g = new w.Generator(42);
  return w.fromArray(Float32Array.from(g.uniform(2 * 3 * 32 * 32, -1, 1)), [2, 3, 32, 32]);
}
