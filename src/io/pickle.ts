/**
 * A restricted unpickler: a small opcode machine that rebuilds Python pickles made of None, bools,
 * ints, floats, strings, bytes, lists, tuples and dicts, plus the globals its caller allows. It
 * never imports or runs anything: a global outside the allowlist stops the read with
 * UnsafePickleError naming it, and an allowed global is a plain TypeScript function of its
 * arguments. Opcodes that only exist to build arbitrary objects (INST, OBJ, NEWOBJ, EXT*) are
 * refused. Hard limits on stack, mark depth, memo, container and string sizes bound memory, and
 * every opcode costs O(1) amortised, so time is linear in the input: hostile bytes give a
 * FormatError, never a hang. No Node built-ins: this runs in the browser too.
 */
import { FormatError, UnsafePickleError } from './errors.js';

/** A dict key: the hashable Python values a state dict uses. */
export type PyKey = string | number | bigint | boolean | null;

/** A rebuilt Python value (`T` is whatever the caller's globals and persistent loader return). */
export type PyValue<T = never> = PyKey | Uint8Array | PyValue<T>[] | PyTuple<T> | PyDict<T> | PyGlobal<T> | T;

/** A Python tuple (lists are plain arrays). */
export class PyTuple<T = never> {
  constructor(readonly items: readonly PyValue<T>[]) {}
}

/** A Python dict or OrderedDict, in insertion order; `state` is what BUILD set (OrderedDict `_metadata`). */
export class PyDict<T = never> {
  readonly map = new Map<PyKey, PyValue<T>>();
  state: PyValue<T> = null;
}

/** An allowed global: its dotted name and, when it may be called by REDUCE, what the call returns. */
export class PyGlobal<T = never> {
  constructor(
    readonly name: string,
    readonly call: ((args: readonly PyValue<T>[]) => PyValue<T>) | null,
  ) {}
}

/** Hard limits of one read; the defaults fit any state dict and stop hostile inputs early. */
export interface PickleLimits {
  /** Values on the stack at once (default 1,000,000). */
  maxStack: number;
  /** Open MARKs at once, i.e. nesting of containers built with MARK (default 1,000). */
  maxMarks: number;
  /** Memo entries (default 1,000,000). */
  maxMemo: number;
  /** Items one list, tuple or dict may hold (default 10,000,000). */
  maxItems: number;
  /** Bytes of one string or bytes value (default 64 MiB). */
  maxString: number;
  /** Bytes of one LONG1/LONG4 integer (default 64). */
  maxLongBytes: number;
}

/** The default {@link PickleLimits}. */
export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxStack: 1_000_000,
  maxMarks: 1_000,
  maxMemo: 1_000_000,
  maxItems: 10_000_000,
  maxString: 64 * 1024 * 1024,
  maxLongBytes: 64,
};

/** What the caller allows: globals by dotted name, the persistent-id loader, limits. */
export interface UnpickleOptions<T> {
  /** Allowed globals by 'module.name'; anything else raises UnsafePickleError. */
  globals: ReadonlyMap<string, PyGlobal<T>>;
  /** BINPERSID's loader (torch's storages); absent: persistent ids are refused. */
  persistentLoad?: (pid: PyValue<T>) => PyValue<T>;
  limits?: Partial<PickleLimits>;
  /** Names the input in errors (a path, or '<memory>'). */
  source?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Reads one pickle from `bytes` starting at `start` and returns its value and the offset just past
 * its STOP opcode (torch's legacy format is several pickles back to back). Everything the pickle
 * asks for is checked against `opts` (see the file comment); any problem raises FormatError (or
 * UnsafePickleError for a refused global) naming `opts.source` and the byte offset.
 */
export function unpickle<T>(bytes: Uint8Array, start: number, opts: UnpickleOptions<T>): { value: PyValue<T>; end: number } {
  const lim = { ...DEFAULT_PICKLE_LIMITS, ...opts.limits };
  const source = opts.source ?? '<memory>';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  type V = PyValue<T>;
  const stack: V[] = [];
  const marks: number[] = [];
  const memo = new Map<number, V>();
  let pos = start;
  let op = 0;
  let opAt = start;

  const fail: (problem: string) => never = (problem) => {
    throw new FormatError(source, `pickle byte ${opAt} (opcode 0x${op.toString(16).padStart(2, '0')}): ${problem}`);
  };
  const need = (n: number): number => {
    if (n > bytes.length - pos) fail(`needs ${n} more bytes, the data ends after ${bytes.length - pos} (truncated file?)`);
    const at = pos;
    pos += n;
    return at;
  };
  const length = (n: number, limit: number, what: string): number => {
    if (n > limit) fail(`${what} of ${n} bytes is over the limit of ${limit}`);
    return n;
  };
  const push = (v: V): void => {
    if (stack.length >= lim.maxStack) fail(`more than ${lim.maxStack} values on the stack`);
    stack.push(v);
  };
  const pop = (): V => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack.pop() as V;
  };
  const top = (): V => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack[stack.length - 1] as V;
  };
  const popMark = (): V[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    const items = stack.splice(m!) as V[];
    if (items.length > lim.maxItems) fail(`a container of ${items.length} items is over the limit of ${lim.maxItems}`);
    return items;
  };
  const str = (n: number, decoder: TextDecoder): string => {
    const at = need(length(n, lim.maxString, 'a string'));
    try {
      return decoder.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('a string that is not valid UTF-8');
    }
  };
  const raw = (n: number): Uint8Array => {
    const at = need(length(n, lim.maxString, 'a bytes value'));
    return bytes.slice(at, at + n);
  };
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`a length of ${v} bytes, more than any file holds`) : Number(v);
  };
  const long = (n: number): number | bigint => {
    const at = need(length(n, lim.maxLongBytes, 'an integer'));
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
    if (bytes[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const key = (k: V): PyKey => {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k as PyKey;
    return fail('a dict key that is not a string, number, bool or None');
  };
  const setItems = (d: V, items: V[]): void => {
    if (!(d instanceof PyDict)) fail('SETITEM(S) on something that is not a dict');
    const dict = d as PyDict<T>;
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of values');
    if (dict.map.size + items.length / 2 > lim.maxItems) fail(`a dict over the limit of ${lim.maxItems} items`);
    for (let i = 0; i < items.length; i += 2) dict.map.set(key(items[i]!), items[i + 1]!);
  };
  const append = (l: V, items: V[]): void => {
    if (!Array.isArray(l)) fail('APPEND(S) on something that is not a list');
    const list = l as V[];
    if (list.length + items.length > lim.maxItems) fail(`a list over the limit of ${lim.maxItems} items`);
    for (const v of items) list.push(v);
  };
  const global = (name: string): V => {
    const g = opts.globals.get(name);
    if (!g) throw new UnsafePickleError(source, name);
    return g;
  };
  const memoize = (index: number): void => {
    if (!memo.has(index) && memo.size >= lim.maxMemo) fail(`more than ${lim.maxMemo} memo entries`);
    memo.set(index, top());
  };
  const memoGet = (index: number): void => {
    if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
    push(memo.get(index)!);
  };
  const line = (): string => {
    const nl = bytes.subarray(pos, pos + 1025).indexOf(0x0a);
    if (nl < 0) fail('GLOBAL without a newline within 1024 bytes');
    const end = pos + nl;
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  for (;;) {
    opAt = pos;
    op = bytes[need(1)]!;
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)]! > 5) fail(`pickle protocol ${bytes[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: a hint about the next bytes' length; the data follows inline
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(`STOP with ${stack.length} values and ${marks.length} marks left (want 1 and 0)`);
        return { value: stack[0] as V, end: pos };
      case 0x28: // MARK
        if (marks.length >= lim.maxMarks) fail(`more than ${lim.maxMarks} nested MARKs`);
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        push(op === 0x88);
        break;
      case 0x4a: // BININT
        push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        push(bytes[need(1)]!);
        break;
      case 0x4d: // BININT2
        push(dv.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        push(long(bytes[need(1)]!));
        break;
      case 0x8b: // LONG4
        push(long(dv.getUint32(need(4), true)));
        break;
      case 0x47: // BINFLOAT (big-endian)
        push(dv.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        push(str(dv.getUint32(need(4), true), utf8));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(bytes[need(1)]!, utf8));
        break;
      case 0x8d: // BINUNICODE8
        push(str(u64(), utf8));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        push(str(dv.getUint32(need(4), true), latin1));
        break;
      case 0x55: // SHORT_BINSTRING
        push(str(bytes[need(1)]!, latin1));
        break;
      case 0x42: // BINBYTES
        push(raw(dv.getUint32(need(4), true)));
        break;
      case 0x43: // SHORT_BINBYTES
        push(raw(bytes[need(1)]!));
        break;
      case 0x8e: // BINBYTES8
        push(raw(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple<T>([]));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const items: V[] = [];
        for (let i = op - 0x84; i > 0; i--) items.unshift(pop());
        push(new PyTuple<T>(items));
        break;
      }
      case 0x74: // TUPLE
        push(new PyTuple<T>(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PyDict<T>());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict<T>();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL 'module\nname\n'
        const module = line();
        push(global(`${module}.${line()}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(global(`${module as string}.${name as string}`));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args), only for allowed globals that declare a call
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail('REDUCE on something that is not an allowed global');
        if (!(args instanceof PyTuple)) fail('REDUCE with arguments that are not a tuple');
        const g = fn as PyGlobal<T>;
        if (!g.call) fail(`'${g.name}' may appear in the file but not be called`);
        push(g.call!((args as PyTuple<T>).items));
        break;
      }
      case 0x62: {
        // BUILD: only the state of a dict (OrderedDict's attributes, torch's _metadata)
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict)) fail('BUILD on something that is not a dict');
        (target as PyDict<T>).state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('a persistent id, and this reader has no loader for them');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x71: // BINPUT
        memoize(bytes[need(1)]!);
        break;
      case 0x72: // LONG_BINPUT
        memoize(dv.getUint32(need(4), true));
        break;
      case 0x94: // MEMOIZE
        memoize(memo.size);
        break;
      case 0x68: // BINGET
        memoGet(bytes[need(1)]!);
        break;
      case 0x6a: // LONG_BINGET
        memoGet(dv.getUint32(need(4), true));
        break;
      default:
        fail('an opcode this restricted reader does not accept (state dicts need only dicts, lists, tuples, numbers, strings and tensors)');
    }
  }
}
