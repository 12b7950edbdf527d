/**
 * Loading published PyTorch weights into a webmtl backbone: the checkpoint's keys go through the
 * backbone's key map (src/nn/backbones/pretrained-keys.ts), keys the map drops on purpose (the
 * ImageNet classifier) are set aside, and everything else must match exactly: every missing key,
 * every unused key and every shape mismatch is reported in one CheckpointError before anything is
 * written, so a failed load leaves the backbone as it was.
 */
import { ArgumentError } from '../errors.js';
import { PRETRAINED_BACKBONES, PRETRAINED_KEY_MAPS, isPretrainedBackbone, type PretrainedKeyMap } from '../nn/backbones/pretrained-keys.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from './errors.js';
import { loadPytorch } from './pth-file.js';
import type { PthOptions } from './pth.js';
import { loadSafetensors } from './safetensors-file.js';

/** What {@link loadPretrainedState} did. */
export interface PretrainedLoad {
  /** The backbone keys that were written. */
  loaded: string[];
  /** Checkpoint keys the key map dropped on purpose (e.g. `fc.weight`, `fc.bias`). */
  dropped: string[];
}

/** The key map of `backbone`: a name from PRETRAINED_KEY_MAPS, or a map of one's own. */
export function pretrainedKeyMap(backbone: string | PretrainedKeyMap): PretrainedKeyMap {
  if (typeof backbone !== 'string') return backbone;
  if (!isPretrainedBackbone(backbone)) {
    throw new ArgumentError('loadPretrained', `no PyTorch key map for backbone '${backbone}' (known: ${PRETRAINED_BACKBONES.join(', ')})`);
  }
  return PRETRAINED_KEY_MAPS[backbone];
}

/**
 * Copies a checkpoint's tensors (`state`, by checkpoint key) into `target` through the key map of
 * `backbone` (a name such as 'resnet50', or a {@link PretrainedKeyMap}). Keys mapped to null are
 * dropped on purpose and returned; a missing key, an unused key, two keys mapping to one, or a
 * shape mismatch raises one CheckpointError naming `source` and listing all of them, and nothing is
 * written. The caller keeps ownership of `state`.
 */
export function loadPretrainedState(
  target: Module,
  state: ReadonlyMap<string, Tensor>,
  backbone: string | PretrainedKeyMap,
  source = '<memory>',
): PretrainedLoad {
  const km = pretrainedKeyMap(backbone);
  const mapped = new Map<string, Tensor>();
  const dropped: string[] = [];
  const problems: string[] = [];
  const from = new Map<string, string>();
  for (const [k, t] of state) {
    const m = km.map(k);
    if (m === null) dropped.push(k);
    else if (mapped.has(m)) problems.push(`'${k}' and '${from.get(m)}' both map to '${m}'`);
    else {
      mapped.set(m, t);
      from.set(m, k);
    }
  }
  const own = target.stateDict();
  const missing = [...own.keys()].filter((k) => !mapped.has(k));
  const unused = [...mapped.keys()].filter((k) => !own.has(k)).map((k) => from.get(k)!);
  const mismatched: string[] = [];
  for (const [k, t] of own) {
    const s = mapped.get(k);
    if (s && (s.dtype !== t.dtype || s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i]))) {
      mismatched.push(`${from.get(k)}: [${s.shape.join(', ')}] ${s.dtype} in the file, [${t.shape.join(', ')}] ${t.dtype} in the backbone`);
    }
  }
  if (missing.length) problems.push(`${missing.length} missing key(s): ${missing.join(', ')}`);
  if (unused.length) problems.push(`${unused.length} unused key(s): ${unused.join(', ')}`);
  if (mismatched.length) problems.push(`${mismatched.length} shape/dtype mismatch(es): ${mismatched.join('; ')} (a width multiplier other than 1?)`);
  if (problems.length) {
    problems.push(`read with the key map of ${km.source}${dropped.length ? `, which drops ${km.dropped} (${dropped.join(', ')})` : ''}`);
    throw new CheckpointError(source, problems, missing, unused, mismatched);
  }
  target.loadStateDict(mapped);
  return { loaded: [...mapped.keys()], dropped };
}

/**
 * Loads pretrained weights from a file into `target`, a backbone such as `resnet50()`, or into
 * each of several backbones of one architecture (per-task encoders): a PyTorch checkpoint
 * (.pth/.pt, read by {@link loadPytorch}, nested state dicts and `module.` prefixes handled) or a
 * safetensors file, through the key map of `backbone` (see {@link loadPretrainedState} for the
 * checks). The file is read once; its tensors are freed afterwards.
 */
export async function loadPretrained(
  target: Module | readonly Module[],
  path: string,
  backbone: string | PretrainedKeyMap,
  opts: PthOptions = {},
): Promise<PretrainedLoad> {
  const km = pretrainedKeyMap(backbone);
  const targets = Array.isArray(target) ? (target as readonly Module[]) : [target as Module];
  if (targets.length === 0) throw new ArgumentError('loadPretrained', 'no backbone to load into');
  const tensors = path.endsWith('.safetensors') ? (await loadSafetensors(path)).tensors : (await loadPytorch(path, opts)).tensors;
  try {
    let result: PretrainedLoad | null = null;
    for (const t of targets) result = loadPretrainedState(t, tensors, km, path);
    return result!;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
