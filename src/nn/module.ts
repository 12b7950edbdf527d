/**
 * Module: the PyTorch-like container of parameters, buffers and child modules. Names are dotted
 * paths in registration order (`layer1.0.conv1.weight`), so state dicts round-trip with PyTorch.
 * Parameters are leaf tensors that require gradients; optimisers update them in place, so a
 * parameter keeps its identity (and GPU buffer) for the module's lifetime.
 */
import { ArgumentError, ShapeError, WebmtlError, fmtShapes } from '../errors.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** A state dict: dotted name -> tensor (parameters and buffers). */
export type StateDict = Map<string, Tensor>;

/** Raised by loadStateDict when keys or shapes do not match; nothing was loaded. */
export class StateDictError extends WebmtlError {
  constructor(
    message: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly mismatched: readonly string[],
  ) {
    super(message);
  }
}

/** What loadStateDict did not match (empty lists in strict mode, where any mismatch throws). */
export interface LoadResult {
  missing: string[];
  unexpected: string[];
  /**
   * Keys left out on purpose, with the reason: e.g. a ResNet drops torchvision's ImageNet classifier
   * `fc.*`, which a dense-prediction backbone has no place for. Absent when nothing was dropped.
   */
  ignored?: { keys: string[]; why: string };
}

export abstract class Module {
  /** Training mode (dropout active, batch norm uses batch statistics); see train()/eval(). */
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly modules = new Map<string, Module>();

  /** Registers a parameter (marked as requiring gradients and kept out of tidy scopes). */
  protected param(name: string, t: Tensor | null): Tensor {
    this.checkName(name);
    if (t) {
      if (t.dtype !== 'f32') throw new ArgumentError('Module.param', `parameter ${name} must be f32`);
      keep(t);
      t.requiresGrad = true;
      t.name = name;
    }
    this.params.set(name, t);
    return t as Tensor;
  }

  /** Registers a buffer: state saved in the state dict but not trained (e.g. running statistics). */
  protected buffer(name: string, t: Tensor | null): Tensor {
    this.checkName(name);
    if (t) keep(t);
    this.buffers.set(name, t);
    return t as Tensor;
  }

  /** Registers a child module under `name`. */
  protected child<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.modules.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new ArgumentError('Module', `invalid name '${name}' (non-empty, no dots)`);
    if (this.params.has(name) || this.buffers.has(name) || this.modules.has(name)) {
      throw new ArgumentError('Module', `'${name}' is already registered`);
    }
  }

  /** Direct children, by name. */
  namedChildren(): [string, Module][] {
    return [...this.modules];
  }

  /** This module and all descendants with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.modules) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** All parameters with dotted names, in registration order (children after own parameters). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.params) if (t) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, m] of this.modules) out.push(...m.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** All parameters (trainable or frozen). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters that currently require gradients (not frozen). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((t) => t.requiresGrad);
  }

  /** All buffers with dotted names. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.buffers) if (t) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, m] of this.modules) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Sets training mode on this module and every descendant. Returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (same as train(false)). Returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Freezes parameters (no gradients, skipped by optimisers): all of them, or those whose dotted
   * name starts with one of `prefixes`. Returns this.
   */
  freeze(...prefixes: string[]): this {
    return this.setTrainable(false, prefixes);
  }

  /** Undoes freeze() for all parameters or those matching `prefixes`. Returns this. */
  unfreeze(...prefixes: string[]): this {
    return this.setTrainable(true, prefixes);
  }

  private setTrainable(flag: boolean, prefixes: string[]): this {
    for (const [n, t] of this.namedParameters()) {
      if (prefixes.length === 0 || prefixes.some((p) => n === p || n.startsWith(`${p}.`))) t.requiresGrad = flag;
    }
    return this;
  }

  /** Drops every parameter's accumulated gradient. */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  /** Parameters and buffers by dotted name (the live tensors, not copies). */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values from `state` into this module's parameters and buffers (in place: tensors keep
   * their identity). Strict mode (default) requires exactly the same keys; shapes must always match.
   * Everything is validated before anything is written, so a failed load changes nothing.
   */
  loadStateDict(state: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const s = src.get(k);
      // A one-element [1] tensor fills a scalar, as PyTorch accepts (older checkpoints store scalars
      // such as batch norm's num_batches_tracked that way); the element is the same four bytes.
      if (s && t.rank === 0 && s.rank === 1 && s.shape[0] === 1 && s.dtype === t.dtype) continue;
      if (s && (s.dtype !== t.dtype || s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i]))) {
        mismatched.push(`${k}: ${fmtShapes(s.shape)} ${s.dtype} vs ${fmtShapes(t.shape)} ${t.dtype}`);
      }
    }
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const parts = [
        mismatched.length ? `shape/dtype mismatch: ${mismatched.join('; ')}` : '',
        strict && missing.length ? `missing keys: ${missing.join(', ')}` : '',
        strict && unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '',
      ].filter(Boolean);
      throw new StateDictError(`loadStateDict: ${parts.join('; ')}; nothing was loaded`, missing, unexpected, mismatched);
    }
    for (const [k, t] of own) {
      const s = src.get(k);
      if (s && s !== t) t.runtime.copy(s.bufferFor('loadStateDict'), 0, t.bufferFor('loadStateDict'), 0, t.size * 4);
    }
    return { missing, unexpected };
  }

  /** Number of parameter elements (all, or only trainable ones). */
  numParameters(trainableOnly = false): number {
    return (trainableOnly ? this.trainableParameters() : this.parameters()).reduce((a, t) => a + t.size, 0);
  }

  /** Frees every parameter, gradient and buffer; the module is unusable afterwards. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)]) t.dispose();
  }
}

/** Throws a ShapeError naming the module when x does not have `rank` dims or channel count `c`. */
export function expectInput(op: string, x: Tensor, rank: number, channels?: number, axis = 1): void {
  if (x.rank !== rank || (channels !== undefined && x.shape[axis] !== channels)) {
    throw new ShapeError(op, [x.shape], `expected rank ${rank}${channels !== undefined ? ` with ${channels} channels on dim ${axis}` : ''}`);
  }
}
