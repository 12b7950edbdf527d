/**
 * PNG and JPEG decoding to plain typed arrays, browser-safe (bytes in, no file access). PNG goes
 * through fast-png, which keeps palette indices (label maps such as PASCAL's VOC12 segmentations
 * are palette PNGs whose indices are the labels); JPEG through jpeg-js. Decoded values can differ
 * from PIL/libjpeg-turbo's by a grey level or so on JPEGs: IDCT and chroma upsampling are not
 * bit-specified.
 */
import { decode as decodePngLib, convertIndexedToRgb } from 'fast-png';
import { decode as decodeJpegLib } from 'jpeg-js';
import { FormatError } from './errors.js';

/** A decoded image: interleaved (HWC) samples as stored in the file. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  /** 1 grey (or palette index), 2 grey+alpha, 3 RGB, 4 RGBA. */
  readonly channels: number;
  /** Bits per sample: 8 or 16 (PNG also 1, 2, 4 for palette/grey, returned unpacked as 8). */
  readonly depth: number;
  /** True when `data` holds palette indices (PNG colour type 3). */
  readonly indexed: boolean;
  /** The palette of an indexed PNG, [r, g, b(, a)] per index. */
  readonly palette?: readonly (readonly number[])[];
  readonly data: Uint8Array | Uint16Array;
}

/** True for bytes starting with the PNG signature. */
function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

/** True for bytes starting with a JPEG SOI marker. */
function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/** Unpacks 1/2/4-bit rows (each row starts on a byte boundary) to one byte per sample. */
function unpackBits(data: Uint8Array, width: number, height: number, channels: number, depth: number): Uint8Array {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Decodes a PNG. Palette images come back as indices (`indexed`, one channel, with the palette),
 * sub-byte depths unpacked to one byte per sample, 16-bit images as Uint16Array. A corrupt or
 * truncated file is a {@link FormatError} naming `name`.
 */
export function decodePng(bytes: Uint8Array, name = '<png bytes>'): RawImage {
  if (!isPng(bytes)) throw new FormatError(name, 'not a PNG file (bad signature)');
  let png;
  try {
    png = decodePngLib(bytes);
  } catch (e) {
    throw new FormatError(name, `corrupt PNG (${(e as Error).message})`);
  }
  const { width, height, channels } = png;
  const indexed = png.palette !== undefined && channels === 1;
  let data = png.data as Uint8Array | Uint16Array;
  let depth: number = png.depth;
  if (depth < 8) {
    data = unpackBits(data as Uint8Array, width, height, channels, depth);
    // Grey images of depth < 8 are rescaled to 0..255 as PIL's convert('L') would; indices are not.
    if (!indexed) {
      const scale = 255 / ((1 << depth) - 1);
      for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i]! * scale);
    }
    depth = 8;
  }
  if (data.length < width * height * channels) throw new FormatError(name, 'truncated PNG image data');
  return { width, height, channels, depth, indexed, ...(indexed ? { palette: png.palette } : {}), data };
}

/** Decodes a baseline or progressive JPEG to 8-bit RGB (grey JPEGs are replicated to 3 channels). */
export function decodeJpeg(bytes: Uint8Array, name = '<jpeg bytes>'): RawImage {
  if (!isJpeg(bytes)) throw new FormatError(name, 'not a JPEG file (no SOI marker)');
  try {
    const img = decodeJpegLib(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    if (img.data.length < img.width * img.height * 3) throw new Error('short image data');
    return { width: img.width, height: img.height, channels: 3, depth: 8, indexed: false, data: img.data };
  } catch (e) {
    throw new FormatError(name, `corrupt JPEG (${(e as Error).message})`);
  }
}

/** Decodes a PNG or a JPEG, chosen by the file's signature (not its name). */
export function decodeImage(bytes: Uint8Array, name = '<image bytes>'): RawImage {
  if (isPng(bytes)) return decodePng(bytes, name);
  if (isJpeg(bytes)) return decodeJpeg(bytes, name);
  throw new FormatError(name, 'neither a PNG nor a JPEG file');
}

/**
 * 8-bit RGB (HWC) of any decoded image, like PIL's convert('RGB'): palettes are looked up, grey is
 * replicated, alpha is dropped (not composited), 16-bit samples keep their high byte.
 */
export function toRgb(img: RawImage): Uint8Array {
  const n = img.width * img.height;
  let src: Uint8Array | Uint16Array = img.data;
  let ch = img.channels;
  if (img.indexed) {
    src = convertIndexedToRgb({ width: img.width, height: img.height, data: img.data, depth: 8, palette: img.palette as number[][], channels: 1 } as never);
    ch = src.length / n;
  }
  const shift = img.depth === 16 ? 8 : 0;
  const out = new Uint8Array(n * 3);
  const grey = ch <= 2;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = src[p * ch + (grey ? 0 : c)]! >> shift;
  }
  return out;
}

/**
 * The single channel of a label-like image (palette indices or grey values, 8 or 16 bit), as PIL's
 * np.array(Image.open(f)) gives for mode 'P', 'L' or 'I;16'. An image with colour channels is a
 * {@link FormatError} naming `name`: labels stored as RGB would silently mean something else.
 * A grey+alpha image keeps the grey channel.
 */
export function toSingleChannel(img: RawImage, name: string): Uint8Array | Uint16Array {
  if (img.channels > 2) {
    throw new FormatError(name, `expected a single-channel (grey or palette) image, got ${img.channels} channels`);
  }
  if (img.channels === 1) return img.data;
  const n = img.width * img.height;
  const out = img.data instanceof Uint16Array ? new Uint16Array(n) : new Uint8Array(n);
  for (let p = 0; p < n; p++) out[p] = img.data[p * 2]!;
  return out;
}

/**
 * Planar f32 [3, H, W] from 8-bit RGB (HWC): (v / 255 - mean[c]) / std[c], as torchvision's
 * ToTensor followed by Normalize, the survey's input pipeline.
 */
export function normalizeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): Float32Array {
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = mean[c]!;
    const s = std[c]!;
    for (let p = 0; p < n; p++) out[c * n + p] = (rgb[p * 3 + c]! / 255 - m) / s;
  }
  return out;
}
