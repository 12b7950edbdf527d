/**
 * Recording. Eager ops call `record()` after computing their output; when gradients are enabled and
 * any input requires them, the output gets a backward node. The engine itself never looks at this:
 * with gradients off (or no input requiring them) ops run exactly as without autograd.
 */
import { DTypeError, GradError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

let enabled = true;

/** True when ops record backward nodes (outside noGrad()). */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` with gradient recording switched off (or on, with `on = true`), then restores it. */
export function noGrad<T>(fn: () => T, on = false): T {
  const prev = enabled;
  enabled = on;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

let replaying = 0;

/**
 * True while a checkpointed segment is run again during backward (see checkpoint.ts): layers with
 * side effects in training mode, such as batch norm's running statistics, skip them then, since
 * the first forward already made them.
 */
export function isRecomputing(): boolean {
  return replaying > 0;
}

/** Runs `fn` as the recomputation of a checkpointed segment (see {@link isRecomputing}). */
export function recomputing<T>(fn: () => T): T {
  replaying++;
  try {
    return fn();
  } finally {
    replaying--;
  }
}

/**
 * Backward rule: input gradients from the output gradient; `needs[i]` false lets input i get null.
 * The engine owns (and disposes) what a rule returns: return new tensors, or `gy` itself.
 */
export type BackwardFn = (gy: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

/**
 * Attaches a backward node to `output` when recording is on and an input requires gradients.
 * `saved` lists the tensors the rule reads (kept alive by tidy while the graph is reachable).
 */
export function record(op: string, inputs: readonly Tensor[], output: Tensor, saved: readonly Tensor[], backward: BackwardFn): Tensor {
  if (enabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.gradFn = { op, inputs, saved, backward };
  }
  return output;
}

/** Marks `t` as a leaf whose gradient backward() accumulates into `t.grad`. Returns t. */
export function requireGrad<T extends Tensor>(t: T, flag = true): T {
  if (flag && t.dtype !== 'f32') throw new DTypeError('requireGrad', `only f32 tensors can require gradients (got ${t.dtype})`);
  if (t.gradFn) throw new GradError('requireGrad: only leaf tensors (not results of tracked ops) can be marked; use detach() first');
  t.requiresGrad = flag;
  return t;
}

/** A new handle on the same memory with no gradient history. */
export function detach(t: Tensor): Tensor {
  return t.view(t.shape);
}
