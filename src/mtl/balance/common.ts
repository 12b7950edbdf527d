/**
 * Helpers the balancers share: checking a step's context, per-task gradients through the engine's
 * `grad()`, flattening parameter gradients into one vector and back, accumulating into `.grad` the
 * way `backward()` does, copying into a balancer's own state tensors, and option checks. Nothing
 * here reads the GPU back.
 */
import { ArgumentError, ShapeError, fmtShapes } from '../../errors.js';
import { grad } from '../../autograd/backward.js';
import { noGrad } from '../../autograd/tape.js';
import { add, mul } from '../../ops/binary.js';
import { concat, narrow, reshape, stack } from '../../ops/shape-ops.js';
import { zeros } from '../../tensor/creation.js';
import { keep } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, BalancerState } from './balancer.js';

/**
 * Checks that `ctx` has one live scalar loss per task, in the task order `expected` (when the
 * balancer was built for given tasks), and returns the losses in `ctx.tasks` order. Throws an
 * ArgumentError naming the balancer (`op`) and the offending task otherwise.
 */
export function taskLosses(op: string, ctx: BalanceContext, expected?: readonly string[]): Tensor[] {
  const tasks = ctx.tasks;
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ArgumentError(op, 'ctx.tasks is empty');
  if (expected && (expected.length !== tasks.length || expected.some((t, i) => t !== tasks[i]))) {
    throw new ArgumentError(op, `built for tasks [${expected.join(', ')}] but the step has tasks [${tasks.join(', ')}]`);
  }
  const keys = Object.keys(ctx.losses ?? {});
  const missing = tasks.filter((t) => !(t in (ctx.losses ?? {})));
  const extra = keys.filter((k) => !tasks.includes(k));
  if (missing.length || extra.length) {
    throw new ArgumentError(op, `losses do not match tasks [${tasks.join(', ')}]` +
      (missing.length ? `; missing: ${missing.join(', ')}` : '') + (extra.length ? `; unexpected: ${extra.join(', ')}` : ''));
  }
  return tasks.map((t) => {
    const l = ctx.losses[t]!;
    if (typeof l?.storageFor !== 'function') throw new ArgumentError(op, `loss of task '${t}' is not a tensor`);
    l.storageFor(`${op} (loss of task '${t}')`);
    if (l.size !== 1) throw new ShapeError(op, [l.shape], `loss of task '${t}' must be a scalar`);
    if (!l.requiresGrad) throw new ArgumentError(op, `loss of task '${t}' has no graph (does not require gradients)`);
    return l.rank === 0 ? l : reshape(l, []);
  });
}

/** The losses stacked into a [T] tensor (with their graphs). */
export function stackLosses(losses: readonly Tensor[]): Tensor {
  return stack(losses, 0);
}

/**
 * Adds `g` to `param.grad` exactly as `backward()` does (the sum replaces the old gradient; `g` is
 * consumed), so balancers that compute gradients themselves leave the same state as a backward.
 */
export function accumulateGrad(param: Tensor, g: Tensor): void {
  if (param.grad) {
    const sum = noGrad(() => add(param.grad!, g));
    param.grad.dispose();
    g.dispose();
    param.grad = keep(sum);
  } else {
    param.grad = keep(g);
  }
}

/**
 * Gradients of each loss with respect to `targets` (parameters or intermediate tensors), one list
 * per task, through `grad()` with the graph retained, so only the sub-graph between the loss and the
 * targets runs. A target a loss does not reach gets null. The caller disposes the tensors.
 */
export function perTaskGradients(losses: readonly Tensor[], targets: readonly Tensor[]): (Tensor | null)[][] {
  return losses.map((l) => grad(l, targets, { retainGraph: true, allowUnused: true }));
}

/** The gradients of `params` flattened and joined into one [P] vector (null gradients as zeros). */
export function flattenGrads(grads: readonly (Tensor | null)[], params: readonly Tensor[]): Tensor {
  return noGrad(() => {
    const parts = params.map((p, i) => {
      const g = grads[i];
      return g ? reshape(g, [p.size]) : zeros([p.size]);
    });
    return parts.length === 1 ? parts[0]! : concat(parts, 0);
  });
}

/**
 * Cuts a [P] vector made by {@link flattenGrads} back into one tensor per parameter and adds each
 * to that parameter's `.grad`.
 */
export function accumulateFlat(vec: Tensor, params: readonly Tensor[]): void {
  let at = 0;
  for (const p of params) {
    const part = noGrad(() => reshape(narrow(vec, 0, at, p.size), p.shape));
    at += p.size;
    accumulateGrad(p, part);
  }
}

/**
 * Adds to each task-specific parameter the sum of its task gradients, each times `scale[i]` (a
 * scalar tensor) when given: `per[i][offset + k]` is task i's gradient of parameter k, null where
 * task i does not reach it. The gradient-surgery methods use this for the heads.
 */
export function addSpecific(
  per: readonly (readonly (Tensor | null)[])[],
  offset: number,
  specific: readonly Tensor[],
  scale?: readonly Tensor[],
): void {
  specific.forEach((p, k) => {
    let acc: Tensor | null = null;
    per.forEach((g, i) => {
      const gi = g[offset + k];
      if (!gi) return;
      const term = scale ? noGrad(() => mul(gi, scale[i]!)) : gi;
      acc = acc ? noGrad(() => add(acc!, term)) : term;
    });
    if (acc) accumulateGrad(p, acc);
  });
}

/**
 * True when every trainable shared parameter lies below `z` in its graph, so that one backward of z
 * reaches them all (the leaves reachable from z through the recorded graph are collected once).
 */
export function sharedBelow(z: Tensor, ctx: BalanceContext): boolean {
  const leaves = new Set<Tensor>();
  const seen = new Set<Tensor>([z]);
  const stack = [z];
  while (stack.length) {
    const t = stack.pop()!;
    if (!t.gradFn) leaves.add(t);
    for (const i of t.gradFn?.inputs ?? []) {
      if (i.requiresGrad && !seen.has(i)) {
        seen.add(i);
        stack.push(i);
      }
    }
  }
  return ctx.sharedParameters.every((p) => !p.requiresGrad || leaves.has(p));
}

/**
 * The parameters of `ctx.parameters` that are not shared (task-specific heads), in order. Used by
 * the gradient-surgery methods, which give these the plain sum of their task gradients.
 */
export function taskSpecific(ctx: BalanceContext): Tensor[] {
  const shared = new Set(ctx.sharedParameters);
  return ctx.parameters.filter((p) => !shared.has(p) && p.requiresGrad);
}

/** The shared parameters that require gradients (frozen ones are left alone); error when none. */
export function sharedTrainable(op: string, ctx: BalanceContext): Tensor[] {
  const ps = ctx.sharedParameters.filter((p) => p.requiresGrad);
  if (ps.length === 0) throw new ArgumentError(op, 'the model has no trainable shared parameters (ctx.sharedParameters is empty)');
  return ps;
}

/** The representation z, or an ArgumentError saying the model offers none. */
export function representationOf(op: string, ctx: BalanceContext): Tensor {
  const z = ctx.representation;
  if (!z) throw new ArgumentError(op, "the model has no shared representation (ctx.representation is null); use mode 'parameters'");
  if (!z.requiresGrad) throw new ArgumentError(op, 'ctx.representation does not require gradients (was it computed under noGrad?)');
  return z;
}

/** Copies `src` into `dst` (same size, f32) on the GPU; state tensors keep their identity. */
export function copyInto(op: string, dst: Tensor, src: Tensor): void {
  if (src.size !== dst.size || src.dtype !== dst.dtype) {
    throw new ShapeError(op, [dst.shape, src.shape], `state tensor of ${src.dtype} ${fmtShapes(src.shape)} does not fit ${dst.dtype} ${fmtShapes(dst.shape)}`);
  }
  if (dst.size > 0) dst.runtime.copy(src.bufferFor(op), 0, dst.bufferFor(op), 0, dst.size * 4);
}

/** The tensor `name` of a balancer state, or an ArgumentError listing what the state holds. */
export function stateTensor(op: string, state: BalancerState, name: string): Tensor {
  const t = state?.tensors?.[name];
  if (!t) throw new ArgumentError(op, `state has no tensor '${name}' (has: ${Object.keys(state?.tensors ?? {}).join(', ') || 'none'})`);
  return t;
}

/** The host numbers `name` of a balancer state (checked to be `length` finite numbers when given). */
export function stateScalars(op: string, state: BalancerState, name: string, length?: number): number[] {
  const v = state?.scalars?.[name];
  if (!Array.isArray(v)) throw new ArgumentError(op, `state has no scalars '${name}'`);
  if (length !== undefined && v.length !== length) throw new ArgumentError(op, `state scalars '${name}' has ${v.length} values, expected ${length}`);
  return v;
}

/** Throws an ArgumentError unless `v` is a finite number (>= min when given; > min when `strict`). */
export function checkFinite(op: string, name: string, v: unknown, min = -Infinity, strict = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (strict ? v <= min : v < min)) {
    throw new ArgumentError(op, `${name} must be a finite number ${strict ? '>' : '>='} ${min} (got ${String(v)})`);
  }
  return v;
}

/** Throws an ArgumentError unless `tasks` is a non-empty list of distinct names. */
export function checkTasks(op: string, tasks: readonly string[]): readonly string[] {
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ArgumentError(op, 'needs at least one task name');
  if (new Set(tasks).size !== tasks.length) throw new ArgumentError(op, `task names must be distinct (got [${tasks.join(', ')}])`);
  return [...tasks];
}

/** Throws an ArgumentError for option keys outside `known` (typos fail loudly). */
export function checkKeys(op: string, options: object | undefined, known: readonly string[]): void {
  for (const k of Object.keys(options ?? {})) {
    if (!known.includes(k)) throw new ArgumentError(op, `unknown option '${k}' (known: ${known.join(', ') || 'none'})`);
  }
}
