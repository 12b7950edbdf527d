/**
 * What a backbone hands to heads and decoders: named multi-scale feature maps and, per level, the
 * channel count and the stride relative to the input. Heads take `BackboneFeatures` (or plain
 * tensors) and are built from `channels`, so any backbone with these levels plugs into them.
 */
import { checkpoint } from '../../autograd/checkpoint.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Module } from '../module.js';

/** The feature levels, finest first: the stem (stride 2) and the four stages c1..c4. */
export const FEATURE_LEVELS = ['stem', 'c1', 'c2', 'c3', 'c4'] as const;

/** The four stage levels c1..c4 (finest first), what FPN-style heads read by default. */
export const STAGE_LEVELS = ['c1', 'c2', 'c3', 'c4'] as const;

/** One feature level's name. */
export type FeatureLevel = (typeof FEATURE_LEVELS)[number];

/** A backbone's output: one NCHW tensor per level. */
export type BackboneFeatures = { readonly [L in FeatureLevel]: Tensor };

/** Per-level metadata (channel counts, strides or dilations). */
export type LevelInfo = { readonly [L in FeatureLevel]: number };

/**
 * A feature extractor: `forward(x)` returns one tensor per level; `channels` and `strides` say, per
 * level, how many channels it has and how many input pixels one of its pixels steps over (the map
 * of an input h x w has about ceil(h / stride) x ceil(w / stride) pixels).
 */
export abstract class Backbone extends Module {
  abstract readonly channels: LevelInfo;
  abstract readonly strides: LevelInfo;
  abstract forward(x: Tensor): BackboneFeatures;
  /**
   * Gradient checkpointing per stage: when true, each stage keeps only its input for the backward
   * pass and runs again there (see checkpoint()), trading one more forward of the backbone for the
   * activation memory inside its stages. Off by default; `train.recompute` in a run configuration.
   */
  recompute = false;
}

/** A stage of a backbone (or a run of its blocks): a one-tensor forward and the parameters it uses. */
export interface StageModule {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
}

/**
 * `stage.forward(x)`, checkpointed when `backbone.recompute` is set: the way every model runs a
 * backbone's stages, so the switch covers models that interleave their own layers between stages.
 */
export function stageForward(backbone: Backbone, stage: StageModule, x: Tensor): Tensor {
  return backbone.recompute ? checkpoint((t) => stage.forward(t), [x], stage.parameters()) : stage.forward(x);
}

/** The tensors of `levels` (finest first) from `features`. */
export function pickLevels(features: BackboneFeatures, levels: readonly FeatureLevel[]): Tensor[] {
  return levels.map((l) => features[l]);
}
