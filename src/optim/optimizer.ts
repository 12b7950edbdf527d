/**
 * The optimiser base: parameter groups with their own hyper-parameters (PyTorch's param_groups),
 * per-parameter state tensors updated in place by fused kernels, and state dicts that checkpoints
 * save and restore bit for bit. Subclasses (SGD, Adam, AdamW) supply option validation and the
 * one-dispatch update of a single parameter.
 */
import { ArgumentError, DTypeError, ShapeError, fmtShapes } from '../errors.js';
import { empty } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** A JSON-able hyper-parameter value. */
export type HyperValue = number | boolean | readonly number[];

/** Hyper-parameters every optimiser has: at least a learning rate. */
export interface BaseOptions {
  lr: number;
}

/** A parameter group: its parameters and its own (complete) options. Options may be changed between steps. */
export type ParamGroup<O extends BaseOptions> = O & { params: Tensor[] };

/** A parameter group as given to a constructor: options left out take the optimiser's defaults. */
export type ParamGroupSpec<O extends BaseOptions> = Partial<O> & { params: Iterable<Tensor> };

/** What optimisers accept: parameters (e.g. `model.parameters()`) or a list of parameter groups. */
export type ParamsInput<O extends BaseOptions> = Iterable<Tensor> | readonly ParamGroupSpec<O>[];

/** The state of one parameter: its update count and its named state tensors (torch's names). */
export interface ParamState {
  step: number;
  buffers: Map<string, Tensor>;
}

/** One parameter's entry in a state dict: update count and state tensors by torch's names. */
export interface ParamStateEntry {
  step: number;
  buffers: Record<string, Tensor>;
}

/** One group's entry in a state dict: parameter indices and JSON-able hyper-parameters. */
export type GroupStateEntry = { params: number[] } & Record<string, HyperValue>;

/**
 * An optimiser's state as a plain structure, shaped like PyTorch's `{state, param_groups}`:
 * `state` maps a parameter's index (over all groups, in order) to its step count and state tensors
 * (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`); parameters never updated have no
 * entry. Everything but the tensors is JSON-able.
 */
export interface OptimizerStateDict {
  kind: string;
  state: Record<number, ParamStateEntry>;
  paramGroups: GroupStateEntry[];
}

/** Throws ArgumentError unless `v` is a finite number >= `min`. */
export function checkNumber(op: string, name: string, v: unknown, min = 0): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ArgumentError(op, `${name} must be a finite number >= ${min} (got ${String(v)})`);
  }
}

/** Throws ArgumentError unless `v` is a number in [0, 1). */
export function checkUnitInterval(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ArgumentError(op, `${name} must be in [0, 1) (got ${String(v)})`);
}

/** Throws ArgumentError unless `v` is a boolean. */
export function checkBoolean(op: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new ArgumentError(op, `${name} must be a boolean (got ${String(v)})`);
}

/** A copy of `o` without its undefined entries (so `{momentum: undefined}` means the default). */
function defined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function isGroupList<O extends BaseOptions>(params: ParamsInput<O>): params is readonly ParamGroupSpec<O>[] {
  return Array.isArray(params) && params.length > 0 && params.every((g) => g !== null && typeof g === 'object' && 'params' in g);
}

export abstract class Optimizer<O extends BaseOptions> {
  /** 'SGD', 'Adam' or 'AdamW': recorded in state dicts so a checkpoint loads into the right kind. */
  abstract readonly kind: string;
  /** The parameter groups, in order; change a group's options (e.g. `lr`) between steps freely. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  private readonly defaults: O;

  /**
   * `params`: the parameters to optimise, or parameter groups `{params, ...options}`; `base`: every
   * option's default value (the known option names); `options`: the caller's overrides, which are
   * the defaults of groups that do not set them. Validates every group (ArgumentError).
   */
  constructor(params: ParamsInput<O>, base: O, options: Partial<O>) {
    this.defaults = base;
    this.checkKeys(`${this.name}`, options);
    this.defaults = { ...base, ...defined(options) } as O;
    const specs = isGroupList(params) ? params : [{ params } as ParamGroupSpec<O>];
    for (const g of specs) this.addParamGroup(g);
    if (this.paramGroups.every((g) => g.params.length === 0)) throw new ArgumentError(this.name, 'got an empty parameter list');
  }

  /** Name used in error messages. */
  protected get name(): string {
    return this.constructor.name;
  }

  /** Throws ArgumentError when a group's options are invalid. */
  protected abstract validate(options: O): void;

  /**
   * Applies one update to `param` with gradient `grad` (same shape, f32) and its state (`st.step`
   * already counts this update) in exactly one kernel dispatch.
   */
  protected abstract update(param: Tensor, grad: Tensor, options: O, st: ParamState): void;

  /** Names of the state tensors a parameter of a group with `options` has after an update. */
  protected abstract stateNames(options: O): readonly string[];

  /** Every state tensor name this optimiser knows (loadStateDict rejects others). */
  protected abstract readonly knownStateNames: readonly string[];

  /** The group's options without its parameters. */
  protected optionsOf(group: ParamGroup<O>): O {
    const { params: _params, ...rest } = group;
    return rest as unknown as O;
  }

  /** Adds a parameter group (like torch's add_param_group); options left out take the defaults. */
  addParamGroup(spec: ParamGroupSpec<O>): void {
    const op = `${this.name}.addParamGroup`;
    if (spec === null || typeof spec !== 'object' || !('params' in spec)) throw new ArgumentError(op, 'a group needs a params list');
    const params = [...(spec.params as Iterable<Tensor>)];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (typeof p?.bufferFor !== 'function') throw new ArgumentError(op, 'params must be tensors');
      p.storageFor(op); // a disposed parameter throws here
      if (p.dtype !== 'f32') throw new DTypeError(op, `parameters must be f32 (got ${p.dtype} of shape ${fmtShapes(p.shape)})`);
      if (seen.has(p)) throw new ArgumentError(op, 'a parameter appears more than once (in this or another group)');
      seen.add(p);
    }
    this.checkKeys(op, spec);
    const group = { ...this.defaults, ...defined(spec), params } as ParamGroup<O>;
    this.validate(this.optionsOf(group));
    this.paramGroups.push(group);
  }

  private checkKeys(op: string, options: object): void {
    for (const k of Object.keys(options ?? {})) {
      if (k !== 'params' && !(k in this.defaults)) throw new ArgumentError(op, `unknown option '${k}' (known: ${Object.keys(this.defaults).join(', ')})`);
    }
  }

  /** All parameters, over all groups in order (a parameter's index in state dicts is its place here). */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Sets the learning rate of every group. */
  setLr(lr: number): void {
    checkNumber(`${this.name}.setLr`, 'lr', lr);
    for (const g of this.paramGroups) g.lr = lr;
  }

  /**
   * One optimisation step: every parameter that requires gradients and has a `.grad` is updated in
   * place by one kernel dispatch; the others (frozen, or without gradient) are skipped and their
   * state is untouched. Everything is validated before the first dispatch, so a failing step
   * changes nothing. Nothing is read back.
   */
  step(): void {
    const op = `${this.name}.step`;
    const work: [Tensor, Tensor, O][] = [];
    for (const g of this.paramGroups) {
      const options = this.optionsOf(g);
      this.validate(options);
      for (const p of g.params) {
        const grad = p.grad;
        if (!p.requiresGrad || !grad) continue;
        p.storageFor(op);
        grad.storageFor(op);
        if (grad.dtype !== 'f32') throw new DTypeError(op, `gradient of a parameter of shape ${fmtShapes(p.shape)} is ${grad.dtype}, not f32`);
        if (grad.size !== p.size || grad.rank !== p.rank || grad.shape.some((d, i) => d !== p.shape[i])) {
          throw new ShapeError(op, [p.shape, grad.shape], 'parameter and gradient shapes differ');
        }
        work.push([p, grad, options]);
      }
    }
    for (const [p, grad, options] of work) {
      let st = this.state.get(p);
      if (!st) this.state.set(p, (st = { step: 0, buffers: new Map() }));
      st.step++;
      this.update(p, grad, options, st);
    }
  }

  /** A state tensor for `param`, allocated (uninitialised) and kept out of tidy scopes. */
  protected stateTensor(param: Tensor): Tensor {
    return keep(empty(param.shape));
  }

  /** Drops the gradients of all parameters (sets `.grad` to null, like torch's set_to_none). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * The state as a plain structure (see {@link OptimizerStateDict}). The tensors are this
   * optimiser's live state (not copies), as in PyTorch: save them before the next step.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.params.map((p, i) => [p, i]));
    const state: Record<number, ParamStateEntry> = {};
    for (const [p, st] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { step: st.step, buffers: Object.fromEntries(st.buffers) };
    }
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const entry: GroupStateEntry = { params: g.params.map(() => next++) };
      for (const [k, v] of Object.entries(this.optionsOf(g))) entry[k] = Array.isArray(v) ? [...(v as number[])] : (v as HyperValue);
      return entry;
    });
    return { kind: this.kind, state, paramGroups };
  }

  /**
   * Restores a state dict made by {@link stateDict} (possibly through a checkpoint): hyper-parameters
   * per group, step counts, and the state tensors' values, copied into this optimiser's own tensors
   * (the source tensors are not retained). The groups must have the same sizes and parameter shapes.
   * Everything is validated first, so a failed load changes nothing.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (sd?.kind !== this.kind) throw new ArgumentError(op, `state dict is for ${String(sd?.kind)}, not ${this.kind}`);
    if (!Array.isArray(sd.paramGroups) || sd.paramGroups.length !== this.paramGroups.length) {
      throw new ArgumentError(op, `state dict has ${sd.paramGroups?.length} parameter groups, this optimiser ${this.paramGroups.length}`);
    }
    const params = this.params;
    const groupOptions: O[] = [];
    let next = 0;
    sd.paramGroups.forEach((entry, gi) => {
      const group = this.paramGroups[gi]!;
      const ids = entry.params;
      if (!Array.isArray(ids) || ids.length !== group.params.length || ids.some((id, k) => id !== next + k)) {
        throw new ArgumentError(op, `group ${gi}: parameter indices do not match a group of ${group.params.length} parameters starting at ${next}`);
      }
      next += ids.length;
      const options = { ...this.optionsOf(group) };
      for (const k of Object.keys(options)) {
        if (!(k in entry)) throw new ArgumentError(op, `group ${gi}: option '${k}' is missing`);
        const v = entry[k]!;
        (options as Record<string, unknown>)[k] = Array.isArray(v) ? [...v] : v;
      }
      this.validate(options);
      groupOptions.push(options);
    });
    const restored = new Map<Tensor, { step: number; buffers: [string, Tensor][] }>();
    for (const [key, entry] of Object.entries(sd.state ?? {})) {
      const i = Number(key);
      const p = params[i];
      if (!Number.isInteger(i) || !p) throw new ArgumentError(op, `state for parameter index ${key}, but there are ${params.length} parameters`);
      if (!Number.isInteger(entry.step) || entry.step < 1) throw new ArgumentError(op, `parameter ${i}: step must be a positive integer (got ${entry.step})`);
      const gi = this.paramGroups.findIndex((g) => g.params.includes(p));
      const buffers = Object.entries(entry.buffers ?? {});
      for (const name of this.stateNames(groupOptions[gi]!)) {
        if (!buffers.some(([n]) => n === name)) throw new ArgumentError(op, `parameter ${i}: state tensor '${name}' is missing`);
      }
      for (const [name, t] of buffers) {
        if (!this.knownStateNames.includes(name)) {
          throw new ArgumentError(op, `parameter ${i}: unknown state tensor '${name}' (known: ${this.knownStateNames.join(', ')})`);
        }
        if (typeof t?.bufferFor !== 'function') throw new ArgumentError(op, `parameter ${i}: '${name}' is not a tensor`);
        t.storageFor(op);
        if (t.dtype !== 'f32' || t.size !== p.size || t.shape.some((d, k) => d !== p.shape[k]) || t.rank !== p.rank) {
          throw new ShapeError(op, [p.shape, t.shape], `parameter ${i}: state tensor '${name}' (${t.dtype}) does not match the f32 parameter`);
        }
      }
      restored.set(p, { step: entry.step, buffers });
    }
    // Copy before freeing the old state: the source may be this optimiser's own stateDict().
    const fresh = new Map<Tensor, ParamState>();
    for (const [p, { step, buffers }] of restored) {
      const st: ParamState = { step, buffers: new Map() };
      for (const [name, src] of buffers) {
        const t = this.stateTensor(p);
        if (p.size > 0) t.runtime.copy(src.bufferFor(op), 0, t.bufferFor(op), 0, p.size * 4);
        st.buffers.set(name, t);
      }
      fresh.set(p, st);
    }
    groupOptions.forEach((o, gi) => Object.assign(this.paramGroups[gi]!, o));
    this.disposeState();
    for (const [p, st] of fresh) this.state.set(p, st);
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const t of st.buffers.values()) t.dispose();
    this.state.clear();
  }

  /** Frees the state tensors (the parameters are the caller's); the optimiser starts afresh after. */
  dispose(): void {
    this.disposeState();
  }
}
