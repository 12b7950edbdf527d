/**
 * Multi-task architectures (encoder-focused: single-task baseline, shared encoder, Cross-Stitch,
 * NDDR-CNN, MTAN; decoder-focused: PAD-Net, MTI-Net, PAP-Net, JTRL), the model contract they implement, model summaries and the spec-driven factory.
 */
export * from './model.js';
export { checkTasks, checkImage, resizeTo, type TaskSpec } from './common.js';
export { ModuleDict } from './module-dict.js';
export {
  BACKBONE_NAMES,
  RESNETS,
  buildBackbone,
  buildResNet,
  defaultRates,
  lastConv,
  type BackboneName,
  type BackboneOptions,
  type BackboneSpec,
  type EncoderBackbone,
  type ResNetName,
} from './backbone-spec.js';
export { HEADS, buildHead, defaultHeadKind, type DenseHead, type HeadContext, type HeadKind, type HeadOptions, type SingleLevelHeadKind } from './head-spec.js';
export { SingleTaskModel, type EncoderModelOptions } from './single-task.js';
export { SharedEncoderModel } from './shared-encoder.js';
export { CROSS_STITCH_STAGES, CrossStitchModel, CrossStitchUnit, type CrossStitchOptions } from './cross-stitch.js';
export { NDDR_STAGES, NDDRLayer, NDDRModel, type NDDROptions } from './nddr.js';
export { MTANModel, attentionLayer, refinementBlock, type MTANOptions, type MTANOutput } from './mtan.js';
export {
  InitialTaskPrediction,
  MultiTaskDistillation,
  SABlock,
  SEBlock,
  basicBlocks,
  bottleneckBlocks,
  type InitialPredictions,
  type TaskBranch,
} from './decoder-blocks.js';
export { PADNetModel, type PADNetOptions } from './padnet.js';
export { PAPNetModel, PAPropagation, type PAPNetOptions, type PAPropagationOptions } from './papnet.js';
export { affinityScale, diffuseStep, diffuseStepComposed, pixelAffinity, pixelAffinityComposed } from './pap-kernels.js';
export { JTRLModel, JTRL_LEVELS, TaskAttentiveModule, type JTRLOptions, type TaskStep } from './jtrl.js';
export { FPM, HighResolutionHead, MTINetModel, type MTINetOptions, type ScaleChannels } from './mtinet.js';
export { summary, formatCount, type ForwardModule, type ModelSummary, type SummaryRow } from './summary.js';
export { ARCHITECTURES, archTakes, createModel, type Arch, type ModelSpec } from './create-model.js';
export { setRecompute } from './recompute.js';
export { countFlops, type FlopCount, type FlopOp } from '../../ops/flops.js';
