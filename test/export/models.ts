/**
 * The architectures every export check covers, built small (eighth-width ResNets, 32 x 32 inputs)
 * with batch-norm statistics and affine parameters set to seeded random values, so that eval-mode
 * outputs depend on every parameter and buffer (and on eps) and not on the default 0 / 1 statistics.
 */
import * as w from '../../src/index.js';
import { overwrite } from '../../src/nn/backbones/reinit.js';

/** One architecture of the export checks: a createModel spec, or a bare backbone (its levels are the outputs). */
export type ExportCase = { name: string; spec: w.ModelSpec } | { name: string; backbone: () => w.ResNet | w.HRNet };

/** Two tasks of different widths (a 5-class map and a 1-channel map). */
export const TASKS: w.TaskSpec[] = [
  { name: 'semseg', channels: 5 },
  { name: 'depth', channels: 1 },
];

/** Every architecture, with the heads and backbones worth covering (Bottleneck, dilation, FPN, HRNet and its heads). */
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
  { name: 'shared-hrnet', spec: { arch: 'shared-encoder', backbone: 'hrnet18', width: 0.125, seed: 11 } },
  { name: 'pad-net-hrnet', spec: { arch: 'pad-net', backbone: 'hrnet18', width: 0.125, seed: 12 } },
  { name: 'mti-net-hrnet', spec: { arch: 'mti-net', backbone: 'hrnet18', width: 0.125, seed: 13 } },
  { name: 'pap-net', spec: { arch: 'pap-net', backbone: 'resnet18', width: 0.125, affinityScale: 1, seed: 14 } },
  { name: 'pap-net-hrnet', spec: { arch: 'pap-net', backbone: 'hrnet18', width: 0.125, seed: 15 } },
  { name: 'jtrl', spec: { arch: 'jtrl', backbone: 'resnet18', width: 0.125, seed: 16 } },
  { name: 'jtrl-hrnet', spec: { arch: 'jtrl', backbone: 'hrnet18', width: 0.125, seed: 17 } },
  { name: 'hrnet18-backbone', backbone: () => w.hrnet18({ widthMultiplier: 0.25, generator: new w.Generator(10) }) },
];

/** The outputs of a case: its tasks (single-task models take the first only), or a backbone's levels. */
export function tasksOf(c: ExportCase, model?: w.Module): w.TaskSpec[] {
  if ('backbone' in c) {
    const ch = (model as w.Backbone | undefined)?.channels;
    return w.FEATURE_LEVELS.map((l) => ({ name: l, channels: ch?.[l] ?? 0 }));
  }
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
export function buildCase(c: ExportCase): w.MultiTaskModel | w.ResNet | w.HRNet {
  const model = 'backbone' in c ? c.backbone() : w.createModel(c.spec, tasksOf(c));
  randomizeNorms(model, 100 + c.name.length);
  return model.eval();
}

/** The case model's eval outputs on x by name (task predictions, or a backbone's levels). */
export function caseOutputs(model: w.Module, x: w.Tensor): Record<string, w.Tensor> {
  return w.noGrad(() => (model instanceof w.MultiTaskModel ? model.forward(x).outputs : { ...(model as w.ResNet | w.HRNet).forward(x) }));
}

/** The input every check feeds: [2, 3, 32, 32], seeded. */
export function caseInput(): w.Tensor {
  const g = new w.Generator(42);
  return w.fromArray(Float32Array.from(g.uniform(2 * 3 * 32 * 32, -1, 1)), [2, 3, 32, 32]);
}
