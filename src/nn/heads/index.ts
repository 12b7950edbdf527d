/**
 * Dense-prediction heads: each takes backbone features (or tensors) and returns logits at the
 * resolution of the features it reads; callers upsample them to the input size.
 */
export { ConvHead, type ConvHeadOptions } from './conv-head.js';
export { ASPP, ASPPHead, ASPPPooling, type ASPPHeadOptions } from './aspp-head.js';
export { FPNHead, FeaturePyramidNetwork, type FPNHeadOptions, type FPNOptions } from './fpn-head.js';
export { HighResolutionFuse, HighResolutionHead, concatBranches } from './hrnet-head.js';
