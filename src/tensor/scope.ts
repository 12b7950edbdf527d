/**
 * Memory scopes. Every tensor created inside `tidy(fn)` is disposed when fn returns, except the
 * tensors fn returns, the tensors passed to `keep()`, and the tensors that the autograd graphs of
 * returned tensors still need for a later backward(). At the top level, those graph tensors are
 * disposed with the last returned tensor that needs them.
 */
import { ArgumentError } from '../errors.js';
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];
const owner = new WeakMap<Tensor, Set<Tensor>>();
// Every tensor ever made, so tidy() recognises tensors without touching properties of other
// values (a proxy, such as an assertion object, may throw on unknown property reads).
const tensors = new WeakSet<object>();

/** Registers a new tensor with the innermost scope (called by the Tensor constructor). */
export function track(t: Tensor): void {
  tensors.add(t);
  const s = scopes[scopes.length - 1];
  if (s) {
    s.add(t);
    owner.set(t, s);
  }
}

/** Removes `t` from its scope so that no tidy() disposes it; the caller owns it now. Returns t. */
export function keep<T extends Tensor>(t: T): T {
  owner.get(t)?.delete(t);
  owner.delete(t);
  return t;
}


function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  const t = value as Tensor;
  if (tensors.has(value)) {
    out.add(t);
    if (t.grad) out.add(t.grad);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

/** Adds every tensor the graphs behind `roots` reference (inputs and saved tensors). */
function withGraphs(roots: Set<Tensor>): Set<Tensor> {
  const out = new Set(roots);
  const stack = [...roots];
  const seenNodes = new Set<object>();
  while (stack.length) {
    const node = stack.pop()!.gradFn;
    // A node whose backward already ran (graph freed) needs nothing kept.
    if (!node || !node.backward || seenNodes.has(node)) continue;
    seenNodes.add(node);
    for (const t of [...node.inputs, ...node.saved]) {
      if (!out.has(t)) {
        out.add(t);
        stack.push(t);
      }
    }
  }
  return out;
}

/**
 * Runs `fn` in a memory scope and disposes every tensor it created that does not escape. Tensors
 * reachable from the result (arrays, Maps and plain objects are searched), and the graphs behind
 * them, move to the enclosing scope. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new ArgumentError('tidy', 'the function returned a Promise; tidy() scopes synchronous code only');
  }
  const roots = new Set<Tensor>();
  collect(result, roots, new Set());
  const survivors = withGraphs(roots);
  const parent = scopes[scopes.length - 1];
  const graphOnly: Tensor[] = [];
  for (const t of scope) {
    if (survivors.has(t)) {
      if (parent) {
        parent.add(t);
        owner.set(t, parent);
      } else {
        owner.delete(t);
        if (!roots.has(t)) graphOnly.push(t);
      }
    } else {
      owner.delete(t);
      t.dispose();
    }
  }
  if (graphOnly.length > 0) holdGraphs(roots, graphOnly);
  return result;
}

/**
 * Tensors that a top-level tidy() kept only for the graphs behind its results: no scope owns them,
 * so they are disposed together with the last of those results (`roots`) to be disposed.
 */
interface GraphHold {
  roots: Set<Tensor>;
  tensors: readonly Tensor[];
}
const graphHolds = new WeakMap<Tensor, GraphHold[]>();

function holdGraphs(roots: ReadonlySet<Tensor>, graphOnly: readonly Tensor[]): void {
  const hold: GraphHold = { roots: new Set(), tensors: graphOnly };
  const wanted = new Set(graphOnly);
  for (const r of roots) {
    if (!r.gradFn) continue;
    for (const t of withGraphs(new Set([r]))) {
      if (wanted.has(t)) {
        hold.roots.add(r);
        break;
      }
    }
  }
  for (const r of hold.roots) {
    const list = graphHolds.get(r);
    if (list) list.push(hold);
    else graphHolds.set(r, [hold]);
  }
}

/** Called by Tensor.dispose(): frees the graph-only tensors that no other live result needs. */
export function released(t: Tensor): void {
  const list = graphHolds.get(t);
  if (!list) return;
  graphHolds.delete(t);
  for (const hold of list) {
    hold.roots.delete(t);
    if (hold.roots.size === 0) for (const g of hold.tensors) g.dispose();
  }
}

/** Depth of nested tidy() scopes (0 outside any). */
export function scopeDepth(): number {
  return scopes.length;
}
