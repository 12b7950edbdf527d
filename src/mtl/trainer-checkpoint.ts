/**
 * Reads the trainer's part of a checkpoint's metadata (epoch and balancer state) before anything is
 * restored, so a checkpoint written with another balancer is rejected with the model untouched.
 */
import { ArgumentError } from '../errors.js';
import { readSafetensorsHeader } from '../io/safetensors.js';

/** The balancer state as a checkpoint stores it (tensors as plain arrays). */
export interface SavedBalancer {
  name: string;
  scalars: Record<string, number[]>;
  tensors: Record<string, { shape: number[]; data: number[] }>;
}

/** The trainer's fields of a checkpoint's `extra`. */
export interface TrainerExtra {
  epoch: number;
  /** The step the checkpoint's epoch began at (resuming mid-epoch keeps the epoch's mean losses right). */
  epochStartStep?: number;
  balancer: SavedBalancer;
}

/** Parses and validates the trainer fields of the checkpoint in `bytes` (read from `source`). */
export function peekExtra(bytes: Uint8Array, source: string): TrainerExtra {
  const header = readSafetensorsHeader(bytes, source);
  const text = header.metadata?.extra;
  const fail = (why: string): never => {
    throw new ArgumentError('Trainer.loadCheckpoint', `${source}: ${why}; was it written by Trainer.saveCheckpoint?`);
  };
  if (text === undefined) return fail('no trainer state in the metadata');
  let extra: unknown;
  try {
    extra = JSON.parse(text);
  } catch {
    return fail('the metadata "extra" is not JSON');
  }
  const e = extra as Partial<TrainerExtra>;
  if (!Number.isInteger(e.epoch) || (e.epoch as number) < 0) fail('no valid epoch');
  const b = e.balancer;
  if (!b || typeof b.name !== 'string' || typeof b.scalars !== 'object' || typeof b.tensors !== 'object') fail('no balancer state');
  for (const [k, v] of Object.entries(b!.tensors)) {
    if (!Array.isArray(v?.shape) || !Array.isArray(v?.data) || v.data.length !== v.shape.reduce((a, d) => a * d, 1)) {
      fail(`balancer tensor '${k}' is malformed`);
    }
  }
  return e as TrainerExtra;
}
