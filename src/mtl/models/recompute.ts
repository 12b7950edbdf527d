/**
 * Switching gradient checkpointing on for every backbone inside a model (the run configuration's
 * `train.recompute`): each backbone stage then keeps only its input for backward and runs again
 * there. Models run their backbones' stages through stageForward(), so the switch covers the
 * shared encoder, the per-task encoders of Cross-Stitch and NDDR-CNN, MTAN's shared encoder and
 * the decoder-focused models' backbones alike.
 */
import { ArgumentError } from '../../errors.js';
import { Backbone } from '../../nn/backbones/features.js';
import type { Module } from '../../nn/module.js';

/**
 * Sets `recompute` on every Backbone in `model` (itself included) and returns how many there were;
 * a model without a backbone is an ArgumentError, since the switch would change nothing.
 */
export function setRecompute(model: Module, on: boolean): number {
  const found = [...new Set([model, ...model.namedModules().map(([, m]) => m)])].filter((m): m is Backbone => m instanceof Backbone);
  if (found.length === 0) throw new ArgumentError('setRecompute', 'the model has no backbone whose stages could be recomputed');
  for (const b of found) b.recompute = on;
  return found.length;
}
