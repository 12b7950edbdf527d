/**
 * Builders for the .pth reader's tests, written from the pickle and zip specifications and
 * independent of src/io: `P` emits pickle opcodes (protocol 2 and 4), `storedZip` lays out a stored
 * zip archive as torch.save does (zip64 end records), `torchPickle` writes a state dict's data.pkl
 * the way torch 1.13 does, and `torchZip` wraps it with its storages.
 */

const enc = new TextEncoder();

/** A pickle under construction: each method appends one opcode. */
export class P {
  private readonly parts: number[] = [];
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
  raw(...b: number[]): this {
    for (const x of b) this.parts.push(x & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.raw(v, v >>> 8, v >>> 16, v >>> 24);
  }
  u64(v: bigint): this {
    for (let i = 0n; i < 8n; i++) this.parts.push(Number((v >> (8n * i)) & 0xffn));
    return this;
  }
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  mark(): this {
    return this.raw(0x28);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v, v >> 8);
    if (v >= -(2 ** 31) && v < 2 ** 31) return this.raw(0x4a).u32(v >>> 0);
    return this.long1(BigInt(v), 8);
  }
  /** LONG1 of a bigint, two's complement little-endian in `n` bytes. */
  long1(v: bigint, n: number): this {
    this.raw(0x8a, n);
    for (let i = 0; i < n; i++) this.parts.push(Number((BigInt.asUintN(8 * n, v) >> BigInt(8 * i)) & 0xffn));
    return this;
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.raw(0x47, ...b);
  }
  str(s: string): this {
    const b = enc.encode(s);
    return this.raw(0x58).u32(b.length).raw(...b);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...enc.encode(`${module}\n${name}\n`));
  }
  tuple(): this {
    return this.raw(0x74);
  }
  tuple2(): this {
    return this.raw(0x86);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  append(): this {
    return this.raw(0x61);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  build(): this {
    return this.raw(0x62);
  }
  persid(): this {
    return this.raw(0x51);
  }
  put(i: number): this {
    return i < 256 ? this.raw(0x71, i) : this.raw(0x72).u32(i);
  }
  get(i: number): this {
    return i < 256 ? this.raw(0x68, i) : this.raw(0x6a).u32(i);
  }
  /** A tuple of small non-negative ints (MARK ... TUPLE). */
  ints(v: readonly number[]): this {
    this.mark();
    for (const x of v) this.int(x);
    return this.tuple();
  }
}

/** One tensor of {@link torchPickle}: storage class, key, element count, view. */
export interface PickledTensor {
  storage: string;
  key: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/**
 * data.pkl of an OrderedDict state dict as torch 1.13 writes it (protocol 2, _rebuild_tensor_v2,
 * persistent ids ('storage', torch.<Type>Storage, key, 'cpu', numel)).
 */
export function torchPickle(tensors: Record<string, PickledTensor>, p = new P().proto(2)): Uint8Array {
  p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const [name, t] of Object.entries(tensors)) {
    p.str(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', t.storage).str(t.key).str('cpu').int(t.numel).tuple().persid();
    p.int(t.offset).ints(t.shape).ints(t.stride).bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce();
  }
  return p.setitems().stop().bytes();
}

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/**
 * A stored (uncompressed) zip archive of `entries`, with zip64 end records as torch writes them;
 * `zip64Fields` moves every entry's sizes and offset into zip64 extra fields.
 */
export function storedZip(entries: Record<string, Uint8Array> | [string, Uint8Array][], opts: { zip64Fields?: boolean } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  for (const [name, data] of Array.isArray(entries) ? entries : Object.entries(entries)) {
    const n = enc.encode(name);
    const local = new Uint8Array(30 + n.length);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint32(14, crc32(data), true);
    dv.setUint32(18, data.length, true);
    dv.setUint32(22, data.length, true);
    dv.setUint16(26, n.length, true);
    local.set(n, 30);
    // With zip64Fields, the central entry says 0xffffffff for both sizes and the offset and holds
    // the real values in a zip64 extra field (id 1), as writers do for entries past 4 GiB.
    const extra = opts.zip64Fields ? 4 + 24 : 0;
    const c = new Uint8Array(46 + n.length + extra);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, opts.zip64Fields ? 0xffffffff : data.length, true);
    cv.setUint32(24, opts.zip64Fields ? 0xffffffff : data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, opts.zip64Fields ? 0xffffffff : at, true);
    c.set(n, 46);
    if (opts.zip64Fields) {
      const e = 46 + n.length;
      cv.setUint16(e, 1, true);
      cv.setUint16(e + 2, 24, true);
      cv.setBigUint64(e + 4, BigInt(data.length), true);
      cv.setBigUint64(e + 12, BigInt(data.length), true);
      cv.setBigUint64(e + 20, BigInt(at), true);
    }
    chunks.push(local, data);
    central.push(c);
    at += local.length + data.length;
  }
  const dirAt = at;
  const dirSize = central.reduce((a, c) => a + c.length, 0);
  const count = central.length;
  const end = new Uint8Array(56 + 20 + 22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06064b50, true);
  ev.setBigUint64(4, 44n, true);
  ev.setBigUint64(24, BigInt(count), true);
  ev.setBigUint64(32, BigInt(count), true);
  ev.setBigUint64(40, BigInt(dirSize), true);
  ev.setBigUint64(48, BigInt(dirAt), true);
  ev.setUint32(56, 0x07064b50, true);
  ev.setBigUint64(56 + 8, BigInt(dirAt + dirSize), true);
  ev.setUint32(56 + 16, 1, true);
  ev.setUint32(76, 0x06054b50, true);
  ev.setUint16(76 + 8, 0xffff, true);
  ev.setUint16(76 + 10, 0xffff, true);
  ev.setUint32(76 + 12, 0xffffffff, true);
  ev.setUint32(76 + 16, 0xffffffff, true);
  const parts = [...chunks, ...central, end];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Little-endian float32 bytes. */
export function f32bytes(v: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(v).buffer);
}

/** A torch.save-like zip: `archive/data.pkl` plus `archive/data/<key>` per storage, and a version entry. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, opts: { zip64Fields?: boolean } = {}): Uint8Array {
  const entries: Record<string, Uint8Array> = { 'archive/data.pkl': pkl };
  for (const [k, b] of Object.entries(storages)) entries[`archive/data/${k}`] = b;
  entries['archive/version'] = enc.encode('3\n');
  return storedZip(entries, opts);
}

/** A deterministic generator of 32-bit integers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
