/**
 * Gradient checkpointing (recomputation): a segment of the network keeps only its input for the
 * backward pass instead of every activation inside it, and runs its forward again when backward
 * reaches it. This trades one extra forward of the segment for its activation memory, which is what
 * limits the batch and resolution of dense-prediction training (the survey's batch 8 at 480x640).
 *
 *   forward:   y = fn(x)  with recording off; fn's intermediates are freed as soon as it returns
 *   backward:  x' = detach(x) requiring gradients; y' = fn(x') recorded; (dx, dparams) = grad(y', gy)
 *
 * The replay sees the same inputs and draws the same dropout masks (the default dropout generator
 * is rewound to where the first forward found it), and layers skip their training side effects
 * during it (batch norm does not update its running statistics twice; see isRecomputing()).
 */
import { ArgumentError } from '../errors.js';
import { defaultDropoutRng } from '../ops/dropout.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { grad } from './backward.js';
import { detach, isGradEnabled, noGrad, record, recomputing, requireGrad } from './tape.js';

/**
 * Runs `fn(...inputs)` as a checkpointed segment (see the file comment) and returns its output,
 * whose gradient flows to `inputs` and to `params`, the parameters `fn` uses (a module's
 * `parameters()`). `fn` must be deterministic given its inputs and the default dropout generator,
 * and return one tensor. Without gradient recording, or when nothing requires gradients, it is a
 * plain call.
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], params: readonly Tensor[] = []): Tensor {
  const leaves = [...inputs, ...params];
  if (!isGradEnabled() || !leaves.some((t) => t.requiresGrad)) return fn(...inputs);
  const rng = defaultDropoutRng.getState();
  const first = tidy(() => noGrad(() => fn(...inputs)));
  // An output that is one of the inputs gets a handle of its own, so the node is not put on an input.
  const out = inputs.includes(first) ? detach(first) : first;
  if (out.dtype !== 'f32') throw new ArgumentError('checkpoint', `the segment must return an f32 tensor, got ${out.dtype}`);
  return record('checkpoint', leaves, out, inputs, (gy, needs) => {
    const now = defaultDropoutRng.getState();
    defaultDropoutRng.setState(rng);
    try {
      return tidy(() =>
        noGrad(
          () =>
            recomputing(() => {
              const xs = inputs.map((x, i) => (needs[i] && x.dtype === 'f32' ? requireGrad(detach(x)) : detach(x)));
              const y = fn(...xs);
              const wanted = leaves.map((t, i) => (i < inputs.length ? xs[i]! : t)).filter((t, i) => needs[i] && t.requiresGrad);
              if (!y.requiresGrad || wanted.length === 0) return leaves.map(() => null);
              const gs = grad(y, wanted, { gradOutputs: [gy], allowUnused: true });
              const byLeaf = new Map(wanted.map((t, k) => [t, gs[k] ?? null]));
              return leaves.map((t, i) => (needs[i] ? byLeaf.get(i < inputs.length ? xs[i]! : t) ?? null : null));
            }),
          true,
        ),
      );
    } finally {
      defaultDropoutRng.setState(now);
    }
  });
}
