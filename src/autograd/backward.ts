/**
 * Reverse-mode differentiation over the recorded graph. `backward()` accumulates into the `.grad`
 * of leaves; `grad()` returns gradients for chosen tensors and runs only the part of the graph that
 * lies between them and the outputs (and asks each rule only for the input gradients it needs).
 */
import { GradError, fmtShapes } from '../errors.js';
import { add, clone } from '../ops/kernels/index.js';
import { onesLike } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import { sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from './tape.js';

/** Options for backward() and grad(). */
export interface GradOptions {
  /** Keep the graph so backward can run through it again (default false). */
  retainGraph?: boolean;
}

/** Tensors reachable from the roots through gradFn, inputs before the tensors computed from them. */
function topoOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [];
  for (const r of roots) {
    if (visited.has(r)) continue;
    visited.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const inputs = top[0].gradFn?.inputs ?? [];
      if (top[1] < inputs.length) {
        const next = inputs[top[1]++]!;
        if (!visited.has(next) && next.requiresGrad) {
          visited.add(next);
          stack.push([next, 0]);
        }
      } else {
        order.push(top[0]);
        stack.pop();
      }
    }
  }
  return order;
}

/**
 * Runs the rules from `roots` (seeded with `seeds`) down to `targets` (all leaves when null) and
 * returns the gradient of every target reached. Intermediate gradients are disposed as soon as no
 * pending slot holds them.
 */
function run(
  roots: readonly Tensor[],
  seeds: readonly Tensor[],
  targets: ReadonlySet<Tensor> | null,
  opts: GradOptions,
): Map<Tensor, Tensor> {
  const order = topoOrder(roots);
  const isTarget = (t: Tensor) => (targets ? targets.has(t) : !t.gradFn);
  // A tensor is needed when it is a target or a needed tensor was computed from it.
  const needed = new Set<Tensor>();
  for (const t of order) {
    if (isTarget(t) || (t.gradFn && t.gradFn.inputs.some((i) => needed.has(i)))) needed.add(t);
  }
  const slots = new Map<Tensor, Tensor>();
  const holds = new Map<Tensor, number>();
  const userOwned = new Set<Tensor>(seeds);
  const hold = (g: Tensor) => holds.set(g, (holds.get(g) ?? 0) + 1);
  const drop = (g: Tensor) => {
    const n = (holds.get(g) ?? 0) - 1;
    if (n > 0) holds.set(g, n);
    else {
      holds.delete(g);
      if (!userOwned.has(g)) g.dispose();
    }
  };
  const put = (t: Tensor, g: Tensor, from: string) => {
    if (!sameShape(t.shape, g.shape)) {
      throw new GradError(`${from}: gradient of shape ${fmtShapes(g.shape)} for a tensor of shape ${fmtShapes(t.shape)}`);
    }
    if (g.dtype !== 'f32') throw new GradError(`${from}: gradients must be f32 (got ${g.dtype})`);
    hold(g);
    const old = slots.get(t);
    if (old) {
      const sum = add(old, g);
      hold(sum);
      slots.set(t, sum);
      drop(old);
      drop(g);
    } else slots.set(t, g);
  };
  roots.forEach((r, i) => put(r, seeds[i]!, `output ${i}`));

  const body = () => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const node = t.gradFn;
      const gy = slots.get(t);
      if (!node || !gy || !needed.has(t)) continue;
      const needs = node.inputs.map((i) => i.requiresGrad && needed.has(i));
      // A target whose inputs are not wanted stops the walk: its rule does not run (nor is it freed).
      if (needs.some(Boolean)) {
        if (!node.backward) {
          throw new GradError(
            `backward through ${node.op} a second time: its graph was freed; pass { retainGraph: true } to the first backward()`,
          );
        }
        const gins = node.backward(gy, needs);
        // Slot the wanted gradients first (a rule may return one tensor for several inputs), then
        // free what nobody holds: unwanted gradients, or all of them when a slot was refused.
        const release = () => {
          for (const g of gins) if (g && g !== gy && !holds.has(g) && !userOwned.has(g)) g.dispose();
        };
        try {
          gins.forEach((g, i) => {
            if (g && needs[i]) put(node.inputs[i]!, g, `backward of ${node.op} (input ${i})`);
          });
        } finally {
          release();
        }
        if (!opts.retainGraph) {
          node.backward = null;
          node.saved = [];
        }
      }
      if (!isTarget(t)) {
        slots.delete(t);
        drop(gy);
      }
    }
  };
  // Rules run raw kernels, so nothing is recorded while they run.
  try {
    noGrad(body);
  } catch (e) {
    // Free every gradient computed so far; the caller gets the error, not a leak.
    for (const g of holds.keys()) if (!userOwned.has(g)) g.dispose();
    throw e;
  }

  const out = new Map<Tensor, Tensor>();
  for (const [t, g] of slots) {
    if (!isTarget(t)) continue;
    // A tensor held by several slots (or owned by the caller) gets its own copy.
    out.set(t, (holds.get(g) ?? 0) > 1 || userOwned.has(g) ? clone(g) : g);
    if ((holds.get(g) ?? 0) > 1) drop(g);
  }
  return out;
}

/**
 * Computes gradients of `root` (a scalar, or any tensor with `gradient` of its shape) and accumulates
 * them into `.grad` of every leaf that requires gradients. Frees the graph unless `retainGraph`.
 */
export function backward(root: Tensor, gradient?: Tensor, opts: GradOptions = {}): void {
  // A disposed root (or gradient) has no graph left to walk: say so rather than do nothing.
  root.storageFor('backward');
  gradient?.storageFor('backward');
  if (!root.requiresGrad) throw new GradError('backward: the tensor does not require gradients (no input was marked with requireGrad)');
  if (!gradient && root.size !== 1) {
    throw new GradError(`backward: output of shape ${fmtShapes(root.shape)} is not a scalar; pass a gradient of the same shape`);
  }
  const seed = gradient ?? onesLike(root);
  let grads: Map<Tensor, Tensor>;
  try {
    grads = run([root], [seed], null, opts);
  } finally {
    if (!gradient) seed.dispose();
  }
  for (const [leaf, g] of grads) {
    if (leaf.grad) {
      const sum = noGrad(() => add(leaf.grad!, g));
      leaf.grad.dispose();
      g.dispose();
      leaf.grad = keep(sum);
    } else leaf.grad = keep(g);
  }
}

/** Options for grad(). */
export interface GradFnOptions extends GradOptions {
  /** Gradients of the outputs (default: ones for scalar outputs). */
  gradOutputs?: readonly Tensor[];
  /** Return null for inputs the outputs do not depend on instead of throwing (default false). */
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs` (leaves or intermediate tensors), without touching
 * any `.grad`. Only the part of the graph between them runs: a rule is asked only for the input
 * gradients that lead to a requested tensor.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradFnOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  // Check everything before allocating, so a rejected call leaks nothing.
  outs.forEach((o, i) => {
    if (!o.requiresGrad) throw new GradError(`grad: output ${i} does not require gradients`);
    if (!opts.gradOutputs?.[i] && o.size !== 1) {
      throw new GradError(`grad: output ${i} of shape ${fmtShapes(o.shape)} is not a scalar; pass gradOutputs`);
    }
  });
  const seeds = outs.map((o, i) => opts.gradOutputs?.[i] ?? onesLike(o));
  let result: Map<Tensor, Tensor>;
  try {
    result = run(outs, seeds, new Set(inputs), opts);
  } finally {
    seeds.forEach((s, i) => {
      if (!opts.gradOutputs?.[i]) s.dispose();
    });
  }
  const unused = inputs.findIndex((t) => !result.has(t));
  if (unused >= 0 && !opts.allowUnused) {
    for (const g of result.values()) g.dispose();
    const t = inputs[unused]!;
    throw new GradError(`grad: input ${unused} (shape ${fmtShapes(t.shape)}) is not used by the outputs; pass { allowUnused: true }`);
  }
  // The same tensor listed twice gets its gradient twice, as separate tensors.
  const given = new Set<Tensor>();
  return inputs.map((t) => {
    const g = result.get(t);
    if (!g) return null;
    if (given.has(g)) return clone(g);
    given.add(g);
    return g;
  });
}
