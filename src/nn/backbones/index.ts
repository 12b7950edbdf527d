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
export {
  ConvBnUnit,
  HRNET_W18_FULL,
  HRNET_W18_SURVEY,
  HRNet,
  HighResolutionModule,
  ModuleSlots,
  hrnet18,
  isClassifierKey,
  type HRNetConfig,
  type HRNetOptions,
  type HRNetStage,
} from './hrnet.js';
export * from './pretrained-keys.js';
