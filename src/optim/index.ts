/**
 * Optimisers (SGD, Adam, AdamW) with fused one-dispatch updates, gradient clipping by global norm
 * without readback, and learning-rate schedules.
 */
export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './clip.js';
export * from './schedules.js';
