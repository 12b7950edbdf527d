/**
 * A defensive reader of uncompressed ("stored") zip archives, the container torch.save writes
 * (always with zip64 end records, each entry's data padded to 64 bytes through the local header's
 * extra field). It reads the central directory and returns views of each entry's bytes without
 * copying. Every count, size and offset is checked against the buffer before use: the entry count
 * against the directory's size, the directory against the file, each entry's data against the
 * bytes before the directory. General-purpose zip libraries trust these fields (and allocate the
 * sizes they declare), which a hostile file can abuse; torch's entries are never compressed, so
 * this reader refuses compression instead of inflating. Browser-safe: no Node built-ins.
 */
import { FormatError } from './errors.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Most entries an archive may list (a torch file has one per storage plus a few). */
export const MAX_ZIP_ENTRIES = 1_000_000;

/** True when `bytes` starts like a zip archive (a local file header). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * The entries of a stored zip archive by name, each a subarray of `bytes` (no copy). Throws
 * FormatError naming `source` for a truncated or inconsistent archive, a compressed, encrypted or
 * multi-disk one, duplicate names, or data outside the file.
 */
export function readZipEntries(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const fail = (problem: string): never => {
    throw new FormatError(source, `zip container: ${problem}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => dv.getUint16(at, true);
  const u32 = (at: number) => dv.getUint32(at, true);
  const u64 = (at: number): number => {
    const v = dv.getBigUint64(at, true);
    return v > BigInt(bytes.length) ? fail(`a size or offset of ${v} beyond the file's ${bytes.length} bytes`) : Number(v);
  };
  // The end record sits in the last 22 + 65535 (comment) bytes; search backwards for its signature.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= 0 && at >= bytes.length - 22 - 0xffff; at--) {
    if (u32(at) === EOCD && at + 22 + u16(at + 20) <= bytes.length) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-central-directory record (truncated file?)');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk archives are not supported');
  let count = u16(eocd + 10);
  let dirSize = u32(eocd + 12);
  let dirAt = u32(eocd + 16);
  let dirEnd = eocd;
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR) {
    const at = u64(eocd - 12);
    if (at + 56 > eocd - 20 || u32(at) !== ZIP64_EOCD) fail('the zip64 locator does not point at a zip64 end record');
    const n = dv.getBigUint64(at + 32, true);
    if (n > BigInt(MAX_ZIP_ENTRIES)) fail(`${n} entries, more than the ${MAX_ZIP_ENTRIES} accepted`);
    count = Number(n);
    dirSize = u64(at + 40);
    dirAt = u64(at + 48);
    dirEnd = at;
  }
  if (dirAt + dirSize > dirEnd) fail(`the central directory (${dirSize} bytes at ${dirAt}) runs past its end record at ${dirEnd}`);
  if (count * 46 > dirSize) fail(`${count} entries cannot fit in a ${dirSize}-byte central directory`);

  const names = new TextDecoder('utf-8', { fatal: true });
  const out = new Map<string, Uint8Array>();
  let p = dirAt;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dirAt + dirSize || u32(p) !== CENTRAL) fail(`central directory entry ${i} is missing or damaged`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    let size = u32(p + 20);
    let usize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > dirAt + dirSize) fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    } catch {
      return fail(`entry ${i} has a name that is not UTF-8`);
    }
    if (flags & 0x1) fail(`entry '${name}' is encrypted`);
    if (method !== 0) fail(`entry '${name}' is compressed (method ${method}); torch.save writes uncompressed entries, re-save the file with torch.save`);
    // zip64 extra field: the 8-byte values of the fields that were set to 0xffffffff, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = u16(e);
      const len = u16(e + 2);
      if (e + 4 + len > p + 46 + nameLen + extraLen) fail(`entry '${name}' has a damaged extra field`);
      if (id === 0x0001) {
        let f = e + 4;
        const take = (): number => {
          if (f + 8 > e + 4 + len) fail(`entry '${name}' has a short zip64 field`);
          f += 8;
          return u64(f - 8);
        };
        if (usize === 0xffffffff) usize = take();
        if (size === 0xffffffff) size = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + len;
    }
    if (size !== usize) fail(`entry '${name}' is stored with ${size} bytes but says it holds ${usize}`);
    if (local + 30 > dirAt || u32(local) !== LOCAL) fail(`entry '${name}' has no local header at offset ${local}`);
    const data = local + 30 + u16(local + 26) + u16(local + 28);
    if (data + size > dirAt) fail(`entry '${name}' (${size} bytes at ${data}) runs into the central directory`);
    if (out.has(name)) fail(`entry '${name}' appears twice`);
    out.set(name, bytes.subarray(data, data + size));
    p = next;
  }
  return out;
}
