/**
 * The multi-task survey's own setups as presets (Vandenhende et al., "Multi-Task Learning for Dense
 * Prediction Tasks: A Survey", arXiv 2004.13379, and the configs of its public repository
 * Multi-Task-Learning-PyTorch: configs/nyud/{resnet50,hrnet18}/*.yml, configs/pascal/hrnet18/*.yml,
 * utils/config.py for the resolutions). What they share: batch 8; NYUD-v2 at 480x640 with
 * semantic segmentation and depth (loss weights 1, 1); PASCAL-Context at 512x512 with semseg,
 * human parts, saliency, normals and edges (loss weights 1, 2, 5, 10, 50; edge positive weight
 * 0.95, the edge task's default); Adam lr 1e-4, weight decay 1e-4, poly schedule (power 0.9), 100
 * epochs; except Cross-Stitch and NDDR-CNN, which use SGD lr 1e-3, momentum 0.9, weight decay 1e-4
 * for 50 epochs. ResNet-50 is dilated to output stride 8 with DeepLab (ASPP) heads; HRNet-W18 uses
 * the HRNet head (shared encoder), the fused branches (PAD-Net) or the four branches (MTI-Net).
 * Deep-supervision losses weigh as the final ones (the trainer's default auxWeight 1), as the
 * survey's PAD-Net and MTI-Net losses.
 *
 * Not reproduced: ImageNet initialisation (give `--set model.backbone='{"name":...,"pretrained":
 * "<file>.pth"}'`), and Cross-Stitch / NDDR-CNN starting from trained single-task networks. Each
 * needs `--set data.root=<folder>` and a real GPU at these sizes.
 */
import type { RunConfigInput } from './config.js';

type Dataset = 'nyud' | 'pascal';

const DATA: { readonly [D in Dataset]: Pick<RunConfigInput, 'data' | 'tasks' | 'taskWeights'> } = {
  nyud: {
    data: { kind: 'nyud', root: 'data/NYUD_MT', size: [480, 640], augment: true },
    tasks: ['semseg', 'depth'],
    taskWeights: { semseg: 1, depth: 1 },
  },
  pascal: {
    data: { kind: 'pascal-context', root: 'data/PASCAL_MT', size: 512, augment: true },
    tasks: ['semseg', 'human_parts', 'sal', 'normals', 'edge'],
    taskWeights: { semseg: 1, human_parts: 2, sal: 5, normals: 10, edge: 50 },
  },
};

const ADAM: Pick<RunConfigInput, 'optimizer' | 'train'> = {
  optimizer: { kind: 'adam', lr: 0.0001, weightDecay: 0.0001 },
  train: { epochs: 100, batchSize: 8 },
};

const SGD: Pick<RunConfigInput, 'optimizer' | 'train'> = {
  optimizer: { kind: 'sgd', lr: 0.001, momentum: 0.9, weightDecay: 0.0001 },
  train: { epochs: 50, batchSize: 8 },
};

function setup(name: string, dataset: Dataset, model: RunConfigInput['model'], opt = ADAM): RunConfigInput {
  return { name, seed: 0, ...DATA[dataset], model, balancer: { method: 'fixed' }, ...opt, schedule: { kind: 'poly' } };
}

const RESNET50 = { backbone: 'resnet50', width: 1, outputStride: 8, head: 'aspp' } as const;
const HRNET18 = { backbone: 'hrnet18', width: 1 } as const;

/** The survey's setups by preset name, with one line each for the preset list. */
export const SURVEY_PRESETS: Readonly<Record<string, { config: RunConfigInput; summary: string }>> = {
  'nyud-resnet50-shared': {
    config: setup('nyud-resnet50-shared', 'nyud', { arch: 'shared-encoder', ...RESNET50 }),
    summary: "survey: NYUD-v2 480x640, shared dilated ResNet-50 + DeepLab heads (configs/nyud/resnet50/multi_task_baseline.yml)",
  },
  'nyud-resnet50-mtan': {
    config: setup('nyud-resnet50-mtan', 'nyud', { arch: 'mtan', ...RESNET50 }),
    summary: 'survey: NYUD-v2, MTAN on dilated ResNet-50 (configs/nyud/resnet50/mtan.yml)',
  },
  'nyud-resnet50-cross-stitch': {
    config: setup('nyud-resnet50-cross-stitch', 'nyud', { arch: 'cross-stitch', ...RESNET50, alpha: 0.9, beta: 0.1 }, SGD),
    summary: 'survey: NYUD-v2, Cross-Stitch on dilated ResNet-50, SGD 50 epochs (from scratch, not from single-task nets)',
  },
  'nyud-resnet50-nddr': {
    config: setup('nyud-resnet50-nddr', 'nyud', { arch: 'nddr', ...RESNET50, alpha: 0.9, beta: 0.1 }, SGD),
    summary: 'survey: NYUD-v2, NDDR-CNN on dilated ResNet-50, SGD 50 epochs (from scratch, not from single-task nets)',
  },
  'nyud-hrnet18-shared': {
    config: setup('nyud-hrnet18-shared', 'nyud', { arch: 'shared-encoder', ...HRNET18, head: 'hrnet' }),
    summary: 'survey: NYUD-v2, shared HRNet-W18 + HRNet heads (configs/nyud/hrnet18/multi_task_baseline.yml)',
  },
  'nyud-hrnet18-padnet': {
    config: setup('nyud-hrnet18-padnet', 'nyud', { arch: 'pad-net', ...HRNET18 }),
    summary: 'survey: NYUD-v2, PAD-Net on the fused HRNet-W18 branches (configs/nyud/hrnet18/pad_net.yml)',
  },
  'nyud-hrnet18-mtinet': {
    config: setup('nyud-hrnet18-mtinet', 'nyud', { arch: 'mti-net', ...HRNET18 }),
    summary: 'survey: NYUD-v2, MTI-Net on the four HRNet-W18 branches (configs/nyud/hrnet18/mti_net.yml)',
  },
  'pascal-hrnet18-shared': {
    config: setup('pascal-hrnet18-shared', 'pascal', { arch: 'shared-encoder', ...HRNET18, head: 'hrnet' }),
    summary: 'survey: PASCAL-Context 512x512, 5 tasks, shared HRNet-W18 + HRNet heads (configs/pascal/hrnet18/multi_task_baseline.yml)',
  },
  'pascal-hrnet18-padnet': {
    config: setup('pascal-hrnet18-padnet', 'pascal', { arch: 'pad-net', ...HRNET18 }),
    summary: 'survey: PASCAL-Context, 5 tasks, PAD-Net on fused HRNet-W18 (configs/pascal/hrnet18/pad_net.yml)',
  },
  'pascal-hrnet18-mtinet': {
    config: setup('pascal-hrnet18-mtinet', 'pascal', { arch: 'mti-net', ...HRNET18 }),
    summary: 'survey: PASCAL-Context, 5 tasks, MTI-Net on HRNet-W18 (configs/pascal/hrnet18/mti_net.yml)',
  },
};
