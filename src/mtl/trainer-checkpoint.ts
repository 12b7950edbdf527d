/**
 * Reads the trainer's part of a checkpoint's metadata (progress, the epoch's running sums and the
 * balancer state) and validates all of it before anything is restored, so a checkpoint written with
 * another balancer, or with progress fields out of range, is rejected with the trainer untouched.
 */
import { ArgumentError } from '../errors.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Balancer } from './balance/balancer.js';

/** The balancer state as a checkpoint stores it (tensors as plain arrays). */
export interface SavedBalancer {
  name: string;
  scalars: Record<string, number[]>;
  tensors: Record<string, { shape: number[]; data: number[] }>;
}

/**
 * The running sums of the epoch in progress: per task, the sum of the logged unweighted losses and
 * of the balancing weights over `count` steps. A resumed run continues them, so its epoch means are
 * those of an uninterrupted run.
 */
export interface EpochSums {
  count: number;
  losses: Record<string, number>;
  weights: Record<string, number>;
  /** Seconds the epoch had run before the checkpoint. */
  seconds: number;
}

/** The trainer's fields of a checkpoint's `extra`. */
export interface TrainerExtra {
  epoch: number;
  /** The step the checkpoint's epoch began at. */
  epochStartStep?: number;
  /** The epoch's running sums (absent in checkpoints of older versions: the means then restart). */
  epochSums?: EpochSums;
  balancer: SavedBalancer;
}

/** The progress counters and trainer state of a checkpoint, validated. */
export interface PeekedCheckpoint extends TrainerExtra {
  /** The optimisation step the checkpoint was written at. */
  step: number;
  /** The whole `extra` object (the caller's fields included). */
  extra: Record<string, unknown>;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates the trainer fields of the checkpoint in `bytes` (read from `source`): the
 * step and epoch are non-negative integers, the epoch began at or before the step, the running sums
 * name exactly `tasks` with finite values, and every balancer number is finite. Throws an
 * ArgumentError naming the file and the field otherwise.
 */
export function peekExtra(bytes: Uint8Array, source: string, tasks?: readonly string[]): PeekedCheckpoint {
  const header = readSafetensorsHeader(bytes, source);
  const fail = (why: string): never => {
    throw new ArgumentError('Trainer.loadCheckpoint', `${source}: ${why}; was it written by Trainer.saveCheckpoint?`);
  };
  const text = header.metadata?.extra;
  if (text === undefined) return fail('no trainer state in the metadata');
  let extra: unknown;
  let step: unknown;
  try {
    extra = JSON.parse(text);
    step = JSON.parse(header.metadata?.step ?? 'null');
  } catch {
    return fail('the metadata "extra" or "step" is not JSON');
  }
  if (!isRecord(extra)) return fail('the metadata "extra" is not an object');
  if (!isCount(step)) fail(`step ${JSON.stringify(step)} is not a non-negative integer`);
  const e = extra as Partial<TrainerExtra>;
  if (!isCount(e.epoch)) fail(`epoch ${JSON.stringify(e.epoch)} is not a non-negative integer`);
  if (e.epochStartStep !== undefined && (!isCount(e.epochStartStep) || e.epochStartStep > (step as number))) {
    fail(`epochStartStep ${JSON.stringify(e.epochStartStep)} is not an integer in [0, ${step as number}]`);
  }
  if (e.epochSums !== undefined) {
    const s = e.epochSums as Partial<EpochSums>;
    const steps = (step as number) - (e.epochStartStep ?? 0);
    if (!isRecord(s) || !isCount(s.count) || s.count > steps || !isFiniteNumber(s.seconds) || !isRecord(s.losses) || !isRecord(s.weights)) {
      fail('epochSums is malformed');
    }
    for (const part of [s.losses!, s.weights!]) {
      const keys = Object.keys(part);
      if (tasks && (keys.length !== tasks.length || !tasks.every((t) => keys.includes(t)))) fail(`epochSums names [${keys.join(', ')}], the trainer's tasks are [${tasks.join(', ')}]`);
      for (const [k, v] of Object.entries(part)) if (!isFiniteNumber(v)) fail(`epochSums of task '${k}' is ${JSON.stringify(v)}`);
    }
  }
  const b = e.balancer;
  if (!isRecord(b) || typeof b.name !== 'string' || !isRecord(b.scalars) || !isRecord(b.tensors)) return fail('no balancer state');
  for (const [k, v] of Object.entries(b.scalars)) {
    if (!Array.isArray(v) || !v.every(isFiniteNumber)) fail(`balancer scalar '${k}' is not a list of finite numbers`);
  }
  for (const [k, v] of Object.entries(b.tensors)) {
    const t = v as Partial<SavedBalancer['tensors'][string]>;
    if (!Array.isArray(t?.shape) || !t.shape.every(isCount) || !Array.isArray(t.data) || t.data.length !== t.shape.reduce((a, d) => a * d, 1)) {
      fail(`balancer tensor '${k}' is malformed`);
    }
    if (!t.data!.every((x) => typeof x === 'number')) fail(`balancer tensor '${k}' holds a value that is not a number`);
  }
  return { ...(e as TrainerExtra), step: step as number, extra: extra as Record<string, unknown> };
}

/**
 * The balancer's state copied to the host, as a checkpoint stores it (also what the trainer puts
 * back when a checkpoint is refused half way).
 */
export async function saveBalancer(balancer: Balancer): Promise<SavedBalancer> {
  const bs = balancer.state();
  const tensors: SavedBalancer['tensors'] = {};
  for (const [k, t] of Object.entries(bs.tensors)) tensors[k] = { shape: [...t.shape], data: Array.from(await t.data()) };
  return { name: balancer.name, scalars: structuredClone(bs.scalars), tensors };
}

/** Loads a host-side balancer state into `balancer` (its tensors uploaded for the call, then freed). */
export function loadBalancer(balancer: Balancer, saved: SavedBalancer): void {
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [k, v] of Object.entries(saved.tensors)) tensors[k] = fromArray(v.data, v.shape);
    balancer.loadState({ scalars: saved.scalars, tensors });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
