/**
 * Training checkpoints: one safetensors file. Tensors: the model's state dict as `model.<name>`
 * and the optimizer's state tensors as `optim.<dotted path in its state tree>` (e.g.
 * `optim.state.0.buffers.exp_avg`). `__metadata__`, every value JSON text: `format`
 * ("webmtl.checkpoint"), `version` (1), `step`, and when given `optimizer` (its state tree with
 * tensors replaced by `{"$tensor": path}`), `schedule`, `rng` (generator states, a list or by name)
 * and `extra`. Any safetensors reader can open it; PyTorch users find the weights under `model.`.
 *
 * Saving replaces the file atomically (see writeFileAtomic), so a crash keeps the previous
 * checkpoint. Loading validates everything it can (file format, keys, shapes, dtypes, sections,
 * generator layout) before it writes into anything, and orders the writes so that a refusal by the
 * optimizer or schedule still leaves every target unchanged.
 *
 * The optimizer and schedule are coded against small structural interfaces
 * ({@link CheckpointOptimizer}, {@link CheckpointSchedule}), which src/optim's optimisers and
 * LRScheduler fit, so this layer does not depend on src/optim.
 */
import { ArgumentError, fmtShapes } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { CheckpointError, FormatError } from './errors.js';
import { readFileBytes, writeFileAtomic } from './node-fs.js';
import {
  decodeSafetensorsHost,
  encodeSafetensorsHost,
  readTensors,
  uploadTensors,
  type DecodedHostTensor,
  type SafetensorsMetadata,
} from './safetensors.js';
import { joinStateTree, referencedTensors, splitStateTree, tensorLeaves } from './state-tree.js';

/**
 * What a checkpoint needs from an optimizer; src/optim's optimisers fit it. `stateDict()` returns
 * a state tree: plain objects, arrays, string-keyed Maps and JSON values, with the optimizer's live
 * state tensors at the leaves (read, never disposed, by the checkpoint); e.g. src/optim's
 * `{kind, state: {0: {step, buffers: {momentum_buffer: Tensor}}}, paramGroups}`, or the minimal
 * `{tensors: Map<string, Tensor>, meta}`. Tensors are stored as `optim.<dotted path>`, the rest as
 * JSON. `loadStateDict(s)` receives the same tree rebuilt from the file; it must copy the values out
 * of `s` (the checkpoint disposes those tensors afterwards) and validate before it writes,
 * throwing and changing nothing when the state does not fit. State created lazily on the first step
 * is fine: before loading, the checkpoint compares shapes only for tensor paths the optimizer
 * currently has.
 */
export interface CheckpointOptimizer {
  stateDict(): unknown;
  loadStateDict(state: unknown): void;
}

/**
 * An LR schedule (or any other JSON state): either an object with `stateDict()`/`loadStateDict()`
 * (src/optim's LRScheduler; loadStateDict must validate before it changes anything) or one with a
 * JSON-able `state` property, which loading replaces.
 */
export type CheckpointSchedule = { stateDict(): unknown; loadStateDict(state: unknown): void } | { state: unknown };

/** A random generator: its whole state is one unsigned 32-bit integer (see src/tensor/random.ts). */
export type GeneratorLike =
  | { state: number }
  /** A generator whose state is a JSON-able object, e.g. DropoutRng ({seed, offset}). */
  | { getState(): unknown; setState(state: never): void };

type Stateful = { getState(): unknown; setState(state: unknown): void };

function isStateful(g: GeneratorLike): boolean {
  return typeof (g as { getState?: unknown }).getState === 'function';
}

/** A generator's state as saved: its integer, or its JSON-able getState() value. */
function savedState(g: GeneratorLike): unknown {
  return isStateful(g) ? (g as unknown as Stateful).getState() : (g as { state: number }).state;
}

/** Generators to save and restore, as a list or by name. */
export type CheckpointGenerators = readonly GeneratorLike[] | Readonly<Record<string, GeneratorLike>>;

/** What {@link saveCheckpoint} writes. */
export interface CheckpointState {
  model: Module;
  optimizer?: CheckpointOptimizer;
  schedule?: CheckpointSchedule;
  rng?: CheckpointGenerators;
  /** The training step the state belongs to (a non-negative integer). */
  step: number;
  /** Any JSON-able value (epoch, best metric, config ...), returned by loadCheckpoint. */
  extra?: unknown;
}

/** What {@link loadCheckpoint} restores into. */
export interface CheckpointTargets {
  model: Module;
  optimizer?: CheckpointOptimizer;
  schedule?: CheckpointSchedule;
  rng?: CheckpointGenerators;
  /**
   * Strict (default true): the model's keys must equal the checkpoint's, and every section asked
   * for (optimizer, schedule, rng) must be in the file. Non-strict: missing or unexpected model keys
   * are reported, and absent sections are skipped (listed in `skipped`). Shapes, dtypes and the
   * generator layout must match either way. Sections in the file that are not asked for are ignored.
   */
  strict?: boolean;
}

/** The result of {@link loadCheckpoint}. */
export interface LoadedCheckpoint {
  step: number;
  /** The saved `extra` value (undefined when none was saved). */
  extra: unknown;
  /** Model keys not in the checkpoint (non-strict loads only; strict loads throw instead). */
  missing: string[];
  /** Checkpoint model keys the model does not have (non-strict loads only). */
  unexpected: string[];
  /** Sections asked for but absent from the checkpoint: 'optimizer', 'schedule', 'rng' (non-strict). */
  skipped: string[];
  /** The raw `__metadata__` map. */
  metadata: SafetensorsMetadata;
}

const FORMAT = 'webmtl.checkpoint';
const VERSION = 1;
const MODEL = 'model.';
const OPTIM = 'optim.';

function generatorEntries(g: CheckpointGenerators): [string, GeneratorLike][] {
  return Array.isArray(g) ? g.map((x, i) => [String(i), x]) : Object.entries(g as Record<string, GeneratorLike>);
}

const hasMethods = (s: CheckpointSchedule): s is { stateDict(): unknown; loadStateDict(state: unknown): void } =>
  typeof (s as { stateDict?: unknown }).stateDict === 'function' && typeof (s as { loadStateDict?: unknown }).loadStateDict === 'function';

function scheduleState(s: CheckpointSchedule): unknown {
  return hasMethods(s) ? s.stateDict() : s.state;
}

function setScheduleState(s: CheckpointSchedule, state: unknown): void {
  if (hasMethods(s)) s.loadStateDict(state);
  else s.state = state;
}

/** JSON text of a value that must be plain JSON (no tensors). */
function jsonText(value: unknown, what: string): string {
  return JSON.stringify(splitStateTree(value ?? null, what, 'saveCheckpoint', false).json);
}

/**
 * Encodes a checkpoint as safetensors bytes (reading every tensor back from the GPU). Throws
 * ArgumentError for a step that is not a non-negative integer, state that JSON cannot hold exactly
 * (NaN, Infinity, class instances, cycles) or a generator state outside [0, 2^32). Works in the
 * browser.
 */
export async function encodeCheckpoint(state: CheckpointState): Promise<Uint8Array> {
  const op = 'saveCheckpoint';
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new ArgumentError(op, `step must be a non-negative integer (got ${state.step})`);
  const meta: SafetensorsMetadata = { format: JSON.stringify(FORMAT), version: String(VERSION), step: String(state.step) };
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of state.model.stateDict()) tensors.set(MODEL + k, t);
  if (state.optimizer) {
    const split = splitStateTree(state.optimizer.stateDict(), 'optimizer state', op);
    meta.optimizer = JSON.stringify(split.json);
    for (const [k, t] of split.tensors) tensors.set(OPTIM + k, t);
  }
  if (state.schedule) meta.schedule = jsonText(scheduleState(state.schedule), 'schedule state');
  if (state.rng) {
    const entries = generatorEntries(state.rng);
    for (const [k, g] of entries) {
      const v = (g as { state?: number }).state;
      if (!isStateful(g) && (!Number.isInteger(v) || v! < 0 || v! > 0xffffffff)) {
        throw new ArgumentError(op, `generator '${k}' has state ${v}; expected an integer in [0, 2^32)`);
      }
    }
    const states = entries.map(([k, g]) => [k, savedState(g)] as const);
    meta.rng = jsonText(Array.isArray(state.rng) ? states.map(([, v]) => v) : Object.fromEntries(states), 'generator states');
  }
  if (state.extra !== undefined) meta.extra = jsonText(state.extra, 'extra');
  return encodeSafetensorsHost(await readTensors(tensors), meta);
}

/**
 * Saves a checkpoint to `path` as one safetensors file (see the file comment for its layout),
 * atomically: a temporary file in the same folder is written and fsynced, then renamed over the
 * target, so an interrupted save keeps the previous checkpoint. Errors as {@link encodeCheckpoint},
 * plus Node's I/O errors (after which the old file is intact).
 */
export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(state), 'saveCheckpoint');
}

/** Parsed JSON of a metadata entry (undefined when absent), or a FormatError naming it. */
function parseMeta(source: string, meta: SafetensorsMetadata, key: string): unknown {
  const text = meta[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, `checkpoint metadata '${key}' is not valid JSON (${(e as Error).message})`);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const describe = (t: { shape: readonly number[]; dtype: string }) => `${fmtShapes(t.shape)} ${t.dtype}`;

/** The checkpoint's contents, parsed and checked for internal consistency (FormatError otherwise). */
function parseCheckpoint(bytes: Uint8Array, source: string) {
  const fail = (problem: string): never => {
    throw new FormatError(source, problem);
  };
  const { tensors, metadata } = decodeSafetensorsHost(bytes, source);
  if (metadata.format === undefined) fail('not a webmtl checkpoint (no "format" in __metadata__); plain safetensors files load with loadSafetensors');
  if (parseMeta(source, metadata, 'format') !== FORMAT) fail(`not a webmtl checkpoint (format ${metadata.format})`);
  const version = parseMeta(source, metadata, 'version');
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) fail(`invalid checkpoint version ${metadata.version}`);
  if ((version as number) > VERSION) fail(`checkpoint version ${version} was written by a newer webmtl (this one reads version ${VERSION})`);
  const step = parseMeta(source, metadata, 'step');
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) fail(`invalid step ${metadata.step}`);
  const model = new Map<string, DecodedHostTensor>();
  const optim = new Map<string, DecodedHostTensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith(MODEL)) model.set(k.slice(MODEL.length), t);
    else if (k.startsWith(OPTIM)) optim.set(k.slice(OPTIM.length), t);
    else fail(`tensor '${k}' is neither model.* nor optim.*`);
  }
  const optimizer = parseMeta(source, metadata, 'optimizer');
  // Schedule and extra may hold Maps (stored as {"$map": ...}) but no tensors.
  const plain = (json: unknown) => joinStateTree(json, () => undefined, fail);
  const referenced = referencedTensors(optimizer);
  for (const k of optim.keys()) if (!referenced.has(k)) fail(`tensor '${OPTIM}${k}' is not referenced by the optimizer state`);
  for (const k of referenced) if (!optim.has(k)) fail(`the optimizer state refers to tensor '${OPTIM}${k}', which is not in the file`);
  return {
    step: step as number,
    metadata,
    model,
    optim,
    optimizer,
    schedule: plain(parseMeta(source, metadata, 'schedule')),
    rng: parseMeta(source, metadata, 'rng'),
    extra: plain(parseMeta(source, metadata, 'extra')),
    fail,
  };
}

/**
 * Restores a checkpoint from bytes into `targets` (see {@link CheckpointTargets} for strictness).
 * Validation comes first and covers the file format (FormatError naming `source`), model keys,
 * shapes and dtypes, the optimizer's tensor shapes, the sections asked for and the generator
 * layout (CheckpointError listing every problem). Only then are values written, fallible steps
 * first: the schedule (rolled back if the optimizer then refuses), the optimizer (its own
 * loadStateDict validates before writing), then the model and the generators, which cannot fail
 * any more. If the schedule or optimizer refuses the state, a CheckpointError (with the refusal as
 * `cause`) is raised and nothing is changed. Works in the browser.
 */
export function restoreCheckpoint(bytes: Uint8Array, targets: CheckpointTargets, source = '<memory>'): LoadedCheckpoint {
  const strict = targets.strict ?? true;
  const ck = parseCheckpoint(bytes, source);
  const problems: string[] = [];
  const mismatched: string[] = [];
  const skipped: string[] = [];

  const own = targets.model.stateDict();
  for (const [k, t] of own) {
    const s = ck.model.get(k);
    if (s && (s.dtype !== t.dtype || !sameShape(s.shape, t.shape))) mismatched.push(`model.${k}: checkpoint ${describe(s)} vs model ${describe(t)}`);
  }
  const missing = [...own.keys()].filter((k) => !ck.model.has(k));
  const unexpected = [...ck.model.keys()].filter((k) => !own.has(k));
  if (strict && missing.length) problems.push(`model keys missing from the checkpoint: ${missing.join(', ')}`);
  if (strict && unexpected.length) problems.push(`checkpoint model keys the model does not have: ${unexpected.join(', ')}`);

  const section = (name: string, present: boolean): boolean => {
    if (present) return true;
    if (strict) problems.push(`the checkpoint has no ${name} state (load with strict: false to skip it)`);
    else skipped.push(name);
    return false;
  };
  const useOptim = !!targets.optimizer && section('optimizer', ck.optimizer !== undefined);
  if (useOptim) {
    for (const [k, t] of tensorLeaves(targets.optimizer!.stateDict())) {
      const s = ck.optim.get(k);
      if (s && (s.dtype !== t.dtype || !sameShape(s.shape, t.shape))) {
        mismatched.push(`optim.${k}: checkpoint ${describe(s)} vs optimizer ${describe(t)}`);
      }
    }
  }
  const useSchedule = !!targets.schedule && section('schedule', ck.schedule !== undefined);
  const rngRestore: (() => void)[] = [];
  if (targets.rng && section('rng', ck.rng !== undefined)) {
    const want = generatorEntries(targets.rng);
    const isList = Array.isArray(targets.rng);
    const saved = ck.rng;
    const kind = (list: boolean) => (list ? 'a list of generators' : 'named generators');
    if (saved === null || typeof saved !== 'object') ck.fail(`invalid generator states ${JSON.stringify(saved)}`);
    if (Array.isArray(saved) !== isList) {
      problems.push(`generators: the checkpoint holds ${kind(Array.isArray(saved))}, the target ${kind(isList)}`);
    } else {
      const savedEntries = Object.entries(saved as Record<string, unknown>);
      const names = (e: [string, unknown][]) => e.map(([k]) => k).sort().join(', ');
      if (names(savedEntries) !== names(want)) {
        problems.push(
          isList
            ? `generators: the checkpoint holds ${savedEntries.length}, the target ${want.length}`
            : `generators: the checkpoint holds {${names(savedEntries)}}, the target {${names(want)}}`,
        );
      } else {
        const byName = new Map(savedEntries);
        for (const [k, g] of want) {
          const v = byName.get(k);
          if (isStateful(g)) {
            const sg = g as unknown as Stateful;
            // Validate by a trial setState, undone at once, so a bad state is refused before any
            // part of the checkpoint is written.
            const current = sg.getState();
            try {
              sg.setState(v);
            } catch (e) {
              ck.fail(`generator '${k}' has invalid state ${JSON.stringify(v)} (${(e as Error).message})`);
            }
            sg.setState(current);
            rngRestore.push(() => sg.setState(v));
            continue;
          }
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
            ck.fail(`generator '${k}' has invalid state ${JSON.stringify(v)}`);
          }
          rngRestore.push(() => ((g as { state: number }).state = v as number));
        }
      }
    }
  }
  if (mismatched.length) problems.unshift(`shape/dtype mismatch: ${mismatched.join('; ')}`);
  if (problems.length) throw new CheckpointError(source, problems, missing, unexpected, mismatched);

  // Everything we can check fits: write. Uploads first (an allocation failure changes nothing).
  const refused = (what: string, e: unknown): CheckpointError => {
    const problem = `the ${what} refused the state: ${(e as Error)?.message ?? String(e)}`;
    const err = new CheckpointError(source, [problem], missing, unexpected, mismatched);
    err.cause = e;
    return err;
  };
  const modelTensors = uploadTensors(ck.model);
  let optimTensors: Map<string, Tensor> | null = null;
  try {
    optimTensors = useOptim ? uploadTensors(ck.optim) : null;
    const optimState = optimTensors ? joinStateTree(ck.optimizer, (k) => optimTensors!.get(k), ck.fail) : undefined;
    let rollback: (() => void) | null = null;
    if (useSchedule) {
      const schedule = targets.schedule!;
      const before = scheduleState(schedule);
      // stateDict() may hand out live state: keep a copy to roll back to.
      const snapshot = hasMethods(schedule) ? structuredClone(before) : before;
      try {
        setScheduleState(schedule, structuredClone(ck.schedule));
      } catch (e) {
        throw refused('schedule', e);
      }
      rollback = () => setScheduleState(schedule, snapshot);
    }
    if (optimTensors) {
      try {
        targets.optimizer!.loadStateDict(optimState);
      } catch (e) {
        rollback?.();
        throw refused('optimizer', e);
      }
    }
    targets.model.loadStateDict(modelTensors, { strict });
  } finally {
    for (const t of modelTensors.values()) t.dispose();
    for (const t of optimTensors?.values() ?? []) t.dispose();
  }
  for (const restore of rngRestore) restore();
  return { step: ck.step, extra: ck.extra, missing: strict ? [] : missing, unexpected: strict ? [] : unexpected, skipped, metadata: ck.metadata };
}

/**
 * Loads the checkpoint at `path` into `targets`; see {@link restoreCheckpoint}. Returns the step,
 * the extra value and what a non-strict load did not match. On any error (FormatError for a
 * damaged file, CheckpointError for one that does not fit) nothing was changed.
 */
export async function loadCheckpoint(path: string, targets: CheckpointTargets): Promise<LoadedCheckpoint> {
  return restoreCheckpoint(await readFileBytes(path, 'loadCheckpoint'), targets, path);
}
