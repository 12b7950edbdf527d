/**
 * What a PyTorch state dict pickle may contain, and how its tensors are rebuilt from storage bytes.
 * The allowlist is the set of globals `torch.save(model.state_dict())` writes: OrderedDict, the
 * legacy storage classes (torch.FloatStorage, ...) as persistent ids, `_rebuild_tensor_v2` (and
 * its predecessor `_rebuild_tensor`), `_rebuild_parameter(_with_state)`. Each allowed call checks
 * its arguments and returns a plain record; storage bytes are only touched later, when a tensor of
 * the chosen state dict is materialised, with offsets, sizes and strides checked against the
 * storage first. Non-contiguous tensors are gathered into row-major order. Browser-safe.
 */
import { convertFromBytes, dtypeSize, readsAs, type SafetensorsDType } from './dtypes.js';
import { FormatError } from './errors.js';
import { PyDict, PyGlobal, PyTuple, type PyValue } from './pickle.js';
import type { DecodedHostTensor } from './safetensors.js';
import { stridesOf } from '../tensor/shape.js';

/** torch's legacy storage class -> element type (the names torch.save writes in persistent ids). */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDType>> = {
  'torch.FloatStorage': 'F32',
  'torch.DoubleStorage': 'F64',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.LongStorage': 'I64',
  'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16',
  'torch.CharStorage': 'I8',
  'torch.ByteStorage': 'U8',
  'torch.BoolStorage': 'BOOL',
};

/** A storage a persistent id names: its key in the file, element type, element count and view offset. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: SafetensorsDType,
    readonly numel: number,
    /** Elements skipped at the start (legacy files' storage views); 0 otherwise. */
    readonly viewOffset = 0,
  ) {}
}

/** A tensor as the pickle describes it: a view (offset, size, stride in elements) of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** The values a torch pickle rebuilds to. */
export type TorchValue = PyValue<StorageRef | TensorRef>;

/** Most elements one tensor may have (2^31, 8 GiB of f32: more than any WebGPU buffer holds). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;

const isCount = (v: TorchValue): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function ints(v: TorchValue, what: string, fail: (p: string) => never): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isCount)) fail(`${what} must be a tuple of non-negative integers`);
  return (v as PyTuple<StorageRef | TensorRef>).items as number[];
}

/**
 * The allowed globals for torch pickles, bound to `source` for error messages. Storage classes
 * are allowed as values only (inside persistent ids); the rebuild functions and OrderedDict may
 * be called, and each validates its arguments before returning a {@link TensorRef} or dict.
 */
export function torchGlobals(source: string): Map<string, PyGlobal<StorageRef | TensorRef>> {
  const fail = (problem: string): never => {
    throw new FormatError(source, problem);
  };
  type V = TorchValue;
  const tensor = (fn: string, a: readonly V[], min: number, max: number): TensorRef => {
    if (a.length < min || a.length > max) fail(`${fn} called with ${a.length} arguments (expected ${min}..${max})`);
    const [storage, offset, size, stride] = a;
    if (!(storage instanceof StorageRef)) return fail(`${fn}: the first argument is not a storage`);
    if (!isCount(offset!)) return fail(`${fn}: the storage offset must be a non-negative integer`);
    const shape = ints(size!, `${fn}: the size`, fail);
    const strides = ints(stride!, `${fn}: the stride`, fail);
    if (strides.length !== shape.length) fail(`${fn}: ${shape.length} sizes but ${strides.length} strides`);
    return new TensorRef(storage, offset as number, shape, strides);
  };
  const parameter = (fn: string, a: readonly V[], n: number): V => {
    if (a.length !== n || !(a[0] instanceof TensorRef)) fail(`${fn}: expected a tensor and ${n - 1} more arguments`);
    return a[0]!;
  };
  const entries: [string, ((a: readonly V[]) => V) | null][] = [
    [
      'collections.OrderedDict',
      (a) => {
        const d = new PyDict<StorageRef | TensorRef>();
        if (a.length === 0) return d;
        if (a.length === 1 && Array.isArray(a[0])) {
          for (const pair of a[0]) {
            if (!(pair instanceof PyTuple) || pair.items.length !== 2 || typeof pair.items[0] !== 'string') fail('OrderedDict: items must be (str, value) pairs');
            d.map.set((pair as PyTuple<StorageRef | TensorRef>).items[0] as string, (pair as PyTuple<StorageRef | TensorRef>).items[1]!);
          }
          return d;
        }
        return fail('OrderedDict called with arguments other than () or a list of pairs');
      },
    ],
    ['torch._utils._rebuild_tensor_v2', (a) => tensor('_rebuild_tensor_v2', a, 6, 7)],
    ['torch._utils._rebuild_tensor', (a) => tensor('_rebuild_tensor', a, 4, 4)],
    ['torch._utils._rebuild_parameter', (a) => parameter('_rebuild_parameter', a, 3)],
    ['torch._utils._rebuild_parameter_with_state', (a) => parameter('_rebuild_parameter_with_state', a, 4)],
    ...Object.keys(TORCH_STORAGE_DTYPES).map((k): [string, null] => [k, null]),
  ];
  return new Map(entries.map(([name, call]) => [name, new PyGlobal<StorageRef | TensorRef>(name, call)]));
}

/**
 * Turns a persistent id `('storage', storage_class, key, location, numel[, view_metadata])` into a
 * {@link StorageRef}; `legacy` accepts the sixth element of torch's pre-zip format (None or
 * `(view_key, offset, size)`). Anything else raises FormatError naming `source`.
 */
export function storageFromPid(pid: TorchValue, source: string, legacy: boolean): StorageRef {
  const fail = (problem: string): never => {
    throw new FormatError(source, `persistent id: ${problem}`);
  };
  if (!(pid instanceof PyTuple)) return fail('not a tuple');
  const [tag, type, key, location, numel, view] = pid.items;
  if (pid.items.length !== (legacy ? 6 : 5)) fail(`${pid.items.length} fields (expected ${legacy ? 6 : 5})`);
  if (tag !== 'storage') fail(`'${String(tag)}' instead of 'storage'`);
  if (!(type instanceof PyGlobal) || !Object.hasOwn(TORCH_STORAGE_DTYPES, type.name)) return fail('the storage type is not a torch storage class');
  if (typeof key !== 'string' || typeof location !== 'string') fail('the key and the location must be strings');
  if (!isCount(numel!)) fail('the element count must be a non-negative integer');
  const dtype = TORCH_STORAGE_DTYPES[type.name]!;
  if (!legacy || view === null) return new StorageRef(key as string, dtype, numel as number);
  if (!(view instanceof PyTuple) || view.items.length !== 3 || !isCount(view.items[1]!) || !isCount(view.items[2]!)) {
    return fail('the view metadata must be None or (key, offset, size)');
  }
  const [off, size] = [view.items[1] as number, view.items[2] as number];
  if (off + size > (numel as number)) fail(`a view of ${size} elements at ${off} runs past its storage of ${numel as number}`);
  return new StorageRef(key as string, dtype, size, off);
}


/**
 * The host values of `t` (floats as f32, integers and bools as i32, as safetensors reads them),
 * from `bytes`, the raw little-endian bytes of its storage. Checks that the storage holds
 * `numel` elements, that every element the view addresses lies inside it, and that the view has no
 * more elements than its storage (expanded views are refused: they would let a tiny file allocate
 * without bound). `name` is the state dict key, for errors.
 */
export function materialize(t: TensorRef, bytes: Uint8Array, name: string, source: string): DecodedHostTensor {
  const fail = (problem: string): never => {
    throw new FormatError(source, `tensor '${name}': ${problem}`);
  };
  const { storage: st, shape, stride, offset } = t;
  const el = dtypeSize(st.dtype);
  if (bytes.length < (st.viewOffset + st.numel) * el) {
    fail(`its storage '${st.key}' has ${bytes.length} bytes, too few for ${st.viewOffset + st.numel} ${st.dtype} elements`);
  }
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n) || n > MAX_TENSOR_ELEMENTS) fail(`shape [${shape.join(', ')}] is too large`);
  if (n > st.numel) fail(`${n} elements in a storage of ${st.numel} (expanded or overlapping views are not read; save tensor.contiguous())`);
  const data = bytes.subarray(st.viewOffset * el, (st.viewOffset + st.numel) * el);
  if (n === 0) {
    const dtype = readsAs(st.dtype) === 'f32' ? 'f32' : 'i32';
    return { dtype, shape: [...shape], data: dtype === 'f32' ? new Float32Array(0) : new Int32Array(0), sourceDType: st.dtype };
  }
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
  if (!Number.isSafeInteger(last) || last >= st.numel) fail(`the view (offset ${offset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${last} of a storage of ${st.numel}`);
  const want = stridesOf(shape);
  const contiguous = shape.every((d, i) => d === 1 || stride[i] === want[i]);
  let raw: Uint8Array;
  if (contiguous) {
    raw = data.subarray(offset * el, (offset + n) * el);
  } else {
    raw = new Uint8Array(n * el);
    const idx = new Array<number>(shape.length).fill(0);
    let src = offset;
    for (let k = 0; k < n; k++) {
      raw.set(data.subarray(src * el, src * el + el), k * el);
      for (let d = shape.length - 1; d >= 0; d--) {
        idx[d]!++;
        src += stride[d]!;
        if (idx[d]! < shape[d]!) break;
        src -= idx[d]! * stride[d]!;
        idx[d] = 0;
      }
    }
  }
  const out = convertFromBytes(st.dtype, raw, n);
  if (typeof out === 'string') return fail(out);
  return { dtype: out instanceof Float32Array ? 'f32' : 'i32', shape: [...shape], data: out, sourceDType: st.dtype };
}
