/**
 * PyTorch checkpoints (.pth/.pt written by torch.save), in memory and browser-safe. Two containers:
 * the zip format (torch >= 1.6: `<name>/data.pkl` plus one stored entry per storage,
 * `<name>/data/<key>`) and the legacy format (pickles back to back: magic number, protocol, system
 * info, the object, the storage keys, then each storage as an int64 count and its bytes). The
 * object pickle goes through the restricted unpickler (pickle.ts) with torch's allowlist
 * (torch-pickle.ts), so nothing in the file is ever executed. The state dict is the top-level dict,
 * or the dict under `state_dict`, `model` or `model_state_dict` (training checkpoints); a
 * `module.` prefix on every key (DataParallel/DDP) is removed. Node file access is pth-file.ts.
 */
import { FormatError } from './errors.js';
import { PyDict, unpickle, type PickleLimits } from './pickle.js';
import { uploadTensors, type DecodedHostTensor } from './safetensors.js';
import { StorageRef, TensorRef, materialize, storageFromPid, torchGlobals, type TorchValue } from './torch-pickle.js';
import { looksLikeZip, readZipEntries } from './zip.js';
import { dtypeSize } from './dtypes.js';
import type { Tensor } from '../tensor/tensor.js';

/** Keys under which training checkpoints nest their state dict, tried in this order. */
export const NESTED_STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict'] as const;

/** Options of {@link decodePthHost}. */
export interface PthOptions {
  /** Take the state dict under this top-level key instead of finding it. */
  key?: string;
  /** Limits of the restricted unpickler (see PickleLimits). */
  limits?: Partial<PickleLimits>;
}

/** A state dict read from a .pth file, with what was done to find it. */
export interface PthStateDict<T> {
  /** Tensors by key, in the file's order. */
  tensors: Map<string, T>;
  /** 'zip' (torch >= 1.6) or 'legacy' (`_use_new_zipfile_serialization=False`, torch < 1.6). */
  format: 'zip' | 'legacy';
  /** The top-level key the state dict was under, or null when it was the top level. */
  nestedUnder: string | null;
  /** 'module.' when every key had it and it was removed, else null. */
  strippedPrefix: string | null;
  /** Keys of the state dict whose values are not tensors (left out). */
  skipped: string[];
}

// The legacy format's first pickle: this number, as torch writes it (LONG1).
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

interface Parsed {
  root: TorchValue;
  storage: (ref: StorageRef) => Uint8Array;
  format: 'zip' | 'legacy';
}

function parseZip(bytes: Uint8Array, source: string, limits: Partial<PickleLimits> | undefined): Parsed {
  const entries = readZipEntries(bytes, source);
  const pkl = [...entries.keys()].filter((k) => k === 'data.pkl' || k.endsWith('/data.pkl'));
  if (pkl.length !== 1) {
    const what = entries.has('constants.pkl') || [...entries.keys()].some((k) => k.endsWith('/constants.pkl')) ? ' (a TorchScript archive? save model.state_dict() with torch.save instead)' : '';
    throw new FormatError(source, `not a torch.save zip file: ${pkl.length} data.pkl entries${what}`);
  }
  const prefix = pkl[0]!.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(order) !== 'little') throw new FormatError(source, 'big-endian storages are not supported; re-save the file on a little-endian machine');
  const root = unpickle(entries.get(pkl[0]!)!, 0, {
    globals: torchGlobals(source),
    persistentLoad: (pid) => storageFromPid(pid, source, false),
    limits,
    source: `${source} (data.pkl)`,
  }).value;
  const storage = (ref: StorageRef): Uint8Array => {
    const e = entries.get(`${prefix}data/${ref.key}`);
    if (!e) throw new FormatError(source, `storage '${ref.key}' has no entry ${prefix}data/${ref.key}`);
    return e;
  };
  return { root, storage, format: 'zip' };
}

function parseLegacy(bytes: Uint8Array, source: string, limits: Partial<PickleLimits> | undefined): Parsed {
  const plain = { globals: torchGlobals(source), limits, source };
  const magic = unpickle(bytes, 0, plain);
  if (magic.value !== LEGACY_MAGIC) throw new FormatError(source, 'not a PyTorch checkpoint (neither the zip format of torch.save nor its legacy format)');
  const protocol = unpickle(bytes, magic.end, plain);
  if (protocol.value !== 1001) throw new FormatError(source, `legacy torch format version ${String(protocol.value)} (only 1001 is read)`);
  const info = unpickle(bytes, protocol.end, plain);
  if (!(info.value instanceof PyDict) || info.value.map.get('little_endian') !== true) {
    throw new FormatError(source, 'legacy torch file from a big-endian machine, or without its system info');
  }
  const refs = new Map<string, StorageRef>();
  const main = unpickle(bytes, info.end, {
    ...plain,
    persistentLoad: (pid) => {
      const ref = storageFromPid(pid, source, true);
      const seen = refs.get(ref.key);
      if (seen && seen.dtype !== ref.dtype) throw new FormatError(source, `storage '${ref.key}' is named with two element types`);
      if (!seen || seen.viewOffset + seen.numel < ref.viewOffset + ref.numel) refs.set(ref.key, ref);
      return ref;
    },
  });
  const keys = unpickle(bytes, main.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new FormatError(source, 'the legacy storage key list is not a list of strings');
  const data = new Map<string, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const ref = refs.get(key);
    if (!ref || data.has(key)) throw new FormatError(source, `legacy storage '${key}' is listed but not used, or listed twice`);
    if (pos + 8 > bytes.length) throw new FormatError(source, `legacy storage '${key}': the file ends before its size (truncated file?)`);
    const n = dv.getBigInt64(pos, true);
    const size = BigInt(dtypeSize(ref.dtype)) * n;
    if (n < 0n || size > BigInt(bytes.length - pos - 8)) throw new FormatError(source, `legacy storage '${key}': ${n} elements do not fit in the rest of the file (truncated file?)`);
    data.set(key, bytes.subarray(pos + 8, pos + 8 + Number(size)));
    pos += 8 + Number(size);
  }
  const storage = (ref: StorageRef): Uint8Array => {
    const e = data.get(ref.key);
    if (!e) throw new FormatError(source, `storage '${ref.key}' is used but not stored`);
    return e;
  };
  return { root: main.value, storage, format: 'legacy' };
}

function describeTop(d: PyDict<StorageRef | TensorRef>): string {
  const keys = [...d.map.keys()].slice(0, 12).map((k) => `'${String(k)}'`);
  return keys.length ? keys.join(', ') + (d.map.size > 12 ? ', ...' : '') : '(empty)';
}

function selectStateDict(root: TorchValue, source: string, key: string | undefined): { dict: PyDict<StorageRef | TensorRef>; nestedUnder: string | null } {
  if (!(root instanceof PyDict)) throw new FormatError(source, 'the file holds no dict (expected a state dict, or a checkpoint dict holding one)');
  const top = root as PyDict<StorageRef | TensorRef>;
  type D = PyDict<StorageRef | TensorRef>;
  const hasTensors = (v: TorchValue | undefined): boolean => v instanceof PyDict && [...v.map.values()].some((x) => x instanceof TensorRef);
  if (key !== undefined) {
    const v = top.map.get(key);
    if (!hasTensors(v)) throw new FormatError(source, `no state dict under '${key}'; top-level keys: ${describeTop(top)}`);
    return { dict: v as D, nestedUnder: key };
  }
  // A nested state dict wins over tensors beside it (a checkpoint's `best_acc1`); a state dict's
  // own keys never hold dicts, so a state dict is never mistaken for a checkpoint.
  for (const k of NESTED_STATE_DICT_KEYS) {
    const v = top.map.get(k);
    if (hasTensors(v)) return { dict: v as D, nestedUnder: k };
  }
  if (hasTensors(top)) return { dict: top, nestedUnder: null };
  throw new FormatError(source, `no state dict found (looked at the top level and under ${NESTED_STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')}); top-level keys: ${describeTop(top)}; pass the key to use`);
}

/**
 * Decodes a .pth/.pt buffer written by torch.save to host tensors: floats (F32, F64, F16, BF16)
 * as f32, integers and bools as i32 (an int64 outside the i32 range is an error, as for
 * safetensors). Finds the state dict (see the file comment), strips a `module.` prefix, rebuilds
 * every tensor (non-contiguous ones gathered) and reports what it did. Never executes anything
 * from the file: a pickle global outside the allowlist raises UnsafePickleError naming it, any
 * other malformation raises FormatError naming `source`.
 */
export function decodePthHost(bytes: Uint8Array, source = '<memory>', opts: PthOptions = {}): PthStateDict<DecodedHostTensor> {
  const parsed = looksLikeZip(bytes) ? parseZip(bytes, source, opts.limits) : bytes[0] === 0x80 ? parseLegacy(bytes, source, opts.limits) : null;
  if (!parsed) throw new FormatError(source, 'not a PyTorch checkpoint (neither the zip format of torch.save nor its legacy format)');
  const { dict, nestedUnder } = selectStateDict(parsed.root, source, opts.key);
  const entries = [...dict.map].filter((e): e is [string, TensorRef] => e[1] instanceof TensorRef);
  const bad = entries.find(([k]) => typeof k !== 'string');
  if (bad) throw new FormatError(source, `state dict key ${String(bad[0])} is not a string`);
  const skipped = [...dict.map.keys()].filter((k) => !(dict.map.get(k) instanceof TensorRef)).map(String);
  const strip = entries.length > 0 && entries.every(([k]) => k.startsWith('module.'));
  // Shared storages let many tensors view one storage; bound the total by the storages' own size
  // so a small file cannot make the reader allocate without limit.
  const stores = new Map(entries.map(([, r]) => [r.storage.key, r.storage.numel]));
  const limit = 2 * [...stores.values()].reduce((a, b) => a + b, 0) + 2 ** 20;
  let budget = limit;
  const tensors = new Map<string, DecodedHostTensor>();
  for (const [k, ref] of entries) {
    const n = ref.shape.reduce((a, b) => a * b, 1);
    budget -= n;
    if (budget < 0) throw new FormatError(source, `the tensors hold more than ${limit} elements in all, twice what their storages hold`);
    const name = strip ? k.slice('module.'.length) : k;
    if (tensors.has(name)) throw new FormatError(source, `key '${name}' appears twice after removing 'module.'`);
    tensors.set(name, materialize(ref, parsed.storage(ref.storage), k, source));
  }
  return { tensors, format: parsed.format, nestedUnder, strippedPrefix: strip ? 'module.' : null, skipped };
}

/**
 * Decodes a .pth/.pt buffer (see {@link decodePthHost}) and uploads its tensors to the GPU (f32
 * or i32). Nothing is allocated unless the whole state dict decoded. The caller owns (and
 * disposes) the tensors. Works in the browser; `source` names the buffer in errors.
 */
export function decodePth(bytes: Uint8Array, source = '<memory>', opts: PthOptions = {}): PthStateDict<Tensor> {
  const host = decodePthHost(bytes, source, opts);
  return { ...host, tensors: uploadTensors(host.tensors) };
}
