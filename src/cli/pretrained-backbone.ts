/**
 * The `model.backbone` key of a run configuration: a backbone name ("resnet50"), or
 * `{name, pretrained}` where `pretrained` is a PyTorch checkpoint (.pth/.pt) or safetensors file of
 * published weights (e.g. torchvision's ImageNet ResNet-50) to start the encoder(s) from. The
 * model is built from the name; the weights are then loaded into every backbone of the model
 * (per-task encoders each get a copy) through the backbone's key map, classifier dropped.
 */
import { z } from 'zod';
import { ArgumentError } from '../errors.js';
import { loadPretrained, type PretrainedLoad } from '../io/pretrained.js';
import { Backbone } from '../nn/backbones/features.js';
import type { Module } from '../nn/module.js';

/** Schema of `model.backbone`: a name, or {name?, pretrained?} (strict keys). */
export const backboneConfig = z.union([
  z.string().min(1),
  z.strictObject({
    /** The backbone (default: the architecture's, resnet18). */
    name: z.string().min(1).optional(),
    /** Path of a .pth/.pt (torch.save) or .safetensors file with the backbone's pretrained weights. */
    pretrained: z.string().min(1).optional(),
  }),
]);

/** A `model.backbone` value. */
export type BackboneConfig = z.output<typeof backboneConfig>;

/** The backbone name createModel builds when a spec names none. */
const DEFAULT_BACKBONE = 'resnet18';

/**
 * Splits a configuration's model spec into the spec createModel takes (`backbone` a plain name)
 * and the pretrained weights to load afterwards (null when none are asked for).
 */
export function splitPretrained(model: Readonly<Record<string, unknown>>): {
  spec: Record<string, unknown>;
  pretrained: { name: string; path: string } | null;
} {
  const b = model.backbone as BackboneConfig | undefined;
  if (b === undefined || typeof b === 'string') return { spec: { ...model }, pretrained: null };
  const spec: Record<string, unknown> = { ...model };
  if (b.name === undefined) delete spec.backbone;
  else spec.backbone = b.name;
  return { spec, pretrained: b.pretrained === undefined ? null : { name: b.name ?? DEFAULT_BACKBONE, path: b.pretrained } };
}

/**
 * Loads the weights file `path` into every backbone of `model` (found by type among its
 * submodules) through the key map of backbone `name`; missing, unused and mismatched keys are
 * reported in one CheckpointError before anything is written. Throws ArgumentError when the model
 * has no backbone (the message says so).
 */
export async function loadPretrainedBackbones(model: Module, name: string, path: string): Promise<PretrainedLoad & { backbones: string[] }> {
  const found = model.namedModules().filter(([, m]) => m instanceof Backbone);
  if (found.length === 0) throw new ArgumentError('model.backbone.pretrained', 'this model has no backbone to load pretrained weights into');
  const r = await loadPretrained(
    found.map(([, m]) => m),
    path,
    name,
  );
  return { ...r, backbones: found.map(([n]) => n) };
}
