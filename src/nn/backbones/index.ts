/**
 * Backbones: feature extractors returning named multi-scale features with per-level channels and
 * strides (see features.ts).
 */
export * from './features.js';
export {
  BasicBlock,
  Bottleneck,
  ResNet,
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  type BlockClass,
  type BlockOptions,
  type ResNetOptions,
  type StageDepths,
} from './resnet.js';
export * from './pretrained-keys.js';
