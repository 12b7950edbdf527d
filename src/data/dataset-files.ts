/**
 * File access shared by the NYUD-v2 and PASCAL-Context readers: Node's fs loaded lazily (so the
 * browser bundle still builds; there only these functions fail), split files, existence checks
 * and decoding wrapped so that every failure is a DatasetError naming the file.
 */
import { WebmtlError } from '../errors.js';
import { decodeImage, normalizeRgb, toRgb, toSingleChannel, type RawImage } from '../io/image.js';
import { decodeMat, loadInflate, type MatValue } from '../io/mat.js';
import { decodeNpy, type NpyArray } from '../io/npy.js';
import { nodeFs } from '../io/node-fs.js';
import { DatasetError } from './errors.js';

type Fs = typeof import('node:fs/promises');

/** `node:fs/promises` (loaded lazily by the io layer), or a DatasetError for `path` without one. */
async function fs(path: string): Promise<Fs> {
  try {
    return await nodeFs('dataset');
  } catch (e) {
    throw new DatasetError(path, `reading dataset files needs Node's file system (${(e as Error).message})`);
  }
}

/** Joins path parts with '/', without Node's path module. */
export function joinPath(...parts: string[]): string {
  return parts.map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, ''))).join('/');
}

/** The whole file; a missing or unreadable file is a DatasetError naming it. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await (await fs(path)).readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(path, code === 'ENOENT' ? 'file not found' : `cannot read (${(e as Error).message})`, { cause: e });
  }
}

/** True when `path` exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  const f = await fs(path);
  return f.access(path).then(() => true, () => false);
}

/** Throws a DatasetError unless `path` is a directory (`what` says what it should hold). */
export async function requireDir(path: string, what: string): Promise<void> {
  let ok = false;
  try {
    ok = (await (await fs(path)).stat(path)).isDirectory();
  } catch (e) {
    if (e instanceof DatasetError) throw e;
  }
  if (!ok) throw new DatasetError(path, `folder not found (it should hold ${what})`);
}

/**
 * Throws one DatasetError listing the first missing files (and how many there are) unless every
 * path exists; the readers call it at construction, as the survey's asserts do.
 */
export async function requireFiles(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  const f = await fs(paths[0]!);
  const missing: string[] = [];
  const chunk = 256;
  for (let i = 0; i < paths.length; i += chunk) {
    const part = paths.slice(i, i + chunk);
    const found = await Promise.all(part.map((p) => f.access(p).then(() => true, () => false)));
    part.forEach((p, k) => found[k] || missing.push(p));
  }
  if (missing.length > 0) {
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    throw new DatasetError(missing[0]!, `file not found (missing: ${missing.slice(0, 5).join(', ')}${more})`);
  }
}

/** Sample ids of a split file (one per line; blank lines and surrounding spaces ignored). */
export async function readSplit(path: string): Promise<string[]> {
  const text = new TextDecoder().decode(await readBytes(path));
  const ids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (ids.length === 0) throw new DatasetError(path, 'split file lists no samples');
  return ids;
}

/** Runs `decode` on the file's bytes, turning any decoding failure into a DatasetError naming it. */
async function decodeFile<T>(path: string, decode: (b: Uint8Array) => T): Promise<T> {
  const bytes = await readBytes(path);
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    const msg = e instanceof WebmtlError ? e.message.replace(`${path}: `, '') : (e as Error).message;
    throw new DatasetError(path, msg, { cause: e });
  }
}

/** A decoded PNG or JPEG. */
export function readImage(path: string): Promise<RawImage> {
  return decodeFile(path, (b) => decodeImage(b, path));
}

/** A decoded .npy array. */
export function readNpy(path: string): Promise<NpyArray> {
  return decodeFile(path, (b) => decodeNpy(b, path));
}

/** The variables of a .mat file (compressed ones included). */
export async function readMat(path: string): Promise<Map<string, MatValue>> {
  await loadInflate();
  return decodeFile(path, (b) => decodeMat(b, path));
}

/** An RGB image file as a normalised f32 [3, H, W] with its size. */
export async function readNormalizedRgb(
  path: string,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): Promise<{ height: number; width: number; image: Float32Array }> {
  const img = await readImage(path);
  return { height: img.height, width: img.width, image: normalizeRgb(toRgb(img), img.width, img.height, mean, std) };
}

/** A single-channel (grey or palette) image's values; a colour image is a DatasetError naming it. */
export async function readLabelImage(path: string): Promise<{ height: number; width: number; data: Uint8Array | Uint16Array }> {
  const img = await readImage(path);
  try {
    return { height: img.height, width: img.width, data: toSingleChannel(img, path) };
  } catch (e) {
    throw new DatasetError(path, (e as Error).message.replace(`${path}: `, ''), { cause: e });
  }
}
