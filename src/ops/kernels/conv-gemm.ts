/**
 * The `outer` / `tiled` variants of the convolution passes (src/ops/kernels/conv.ts chooses them):
 * im2col and col2im from shaders/conv-gemm.wgsl around matmul's k-major products, in chunks of the
 * batch (or of one image's pixels) so that no temporary exceeds a fixed budget. With the runtime's
 * f16 switch on, the passes that ./f16.ts lists write their im2col buffers and packed operands as f16
 * and run the f16 products. Measurements behind the choices are in bench/README.md.
 */
import { bindingsByName, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { grid, type Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConvGeom } from './conv.js';
import { f16Kernel, useF16 } from './f16.js';
import { packKMajor, productKMajor, type KMajor } from './matmul.js';

/** The k-major matmul kernel that runs the products. */
export type GemmKernel = 'outer' | 'tiled';

const u32s = (names: readonly string[]) => names.map((name) => ({ name, type: 'u32' as const }));

/**
 * im2col (`cols`, `cols3`, `rows`): the padded input, the patch-offset table, and the k-major operand
 * written through the shader's `kvec` alias (vec4<f32>; vec4<f16> in the f16 module).
 */
const IM2COL: KernelDescriptor = {
  name: 'conv-gemm-im2col',
  bindings: [
    { name: 'xp', access: 'read', type: 'f32' },
    { name: 'koff', access: 'read', type: 'u32' },
    { name: 'col', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: u32s(['kdim', 'ld4', 'count', 'first', 'n0', 'ohw', 'ow', 'oh', 'sh', 'sw', 'wp', 'x_batch', 'seg', 'pad0', 'pad1', 'pad2']),
  constants: { WG: { type: 'u32', default: 64 }, SW: { type: 'u32', default: 1 } },
};

/** `init_out`: y = bias[channel] + res before the product accumulates into it. */
const INIT_OUT: KernelDescriptor = {
  name: 'conv-gemm-init',
  bindings: [
    { name: 'bias', access: 'read', type: 'f32' },
    { name: 'res', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: u32s(['total', 'ohw', 'o', 'pad0']),
  constants: { WG: { type: 'u32', default: 64 }, HAS_BIAS: { type: 'bool', default: false }, HAS_RES: { type: 'bool', default: false } },
};

/** `col2im`: the input gradient gathered from the product w^T gy, plus convTranspose2d's bias. */
const COL2IM: KernelDescriptor = {
  name: 'conv-gemm-col2im',
  bindings: [
    { name: 'dcol', access: 'read', type: 'f32' },
    { name: 'cbias', access: 'read', type: 'f32' },
    { name: 'dx', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: u32s(['w4', 'h', 'w', 'rows', 'oh', 'ow', 'pt', 'pl', 'out0', 'c', 'kh', 'kw', 'dh', 'dw', 'pad0', 'pad1']),
  constants: {
    WG: { type: 'u32', default: 64 },
    SH: { type: 'u32', default: 1 },
    SW: { type: 'u32', default: 1 },
    HAS_BIAS: { type: 'bool', default: false },
  },
};

const colsKernel = fileKernel(IM2COL, 'conv-gemm', 'cols');
const cols3Kernel = fileKernel(IM2COL, 'conv-gemm', 'cols3');
const rowsKernel = fileKernel(IM2COL, 'conv-gemm', 'rows');
const initKernel = fileKernel(INIT_OUT, 'conv-gemm', 'init_out');
const col2imKernel = fileKernel(COL2IM, 'conv-gemm', 'col2im');
const COLS_WG = 64;
const ROWS_WG = 16;
/** Pixels each `rows` invocation walks through (16 ran 1.4x slower; 64 to 256 alike). */
const ROWS_SEG = 64;


/** A piece of the output pixels: images n0 .. n0 + nb - 1, pixels p0 .. p0 + cols - 1 of each. */
interface Chunk {
  n0: number;
  nb: number;
  p0: number;
  cols: number;
}

/**
 * Splits n images of ohw pixels into chunks of at most `chunkBytes` at `perPixel` bytes a pixel:
 * whole images while one fits, else pixel ranges (multiples of 4, so the vec4 stores of the product stay
 * aligned) of one image at a time.
 */
function chunksOf(rt: Runtime, n: number, ohw: number, perPixel: number): Chunk[] {
  const out: Chunk[] = [];
  // No chunk may exceed one binding either.
  const chunkBytes = Math.min(rt.kernelOptions.convChunkBytes, rt.maxBindingBytes);
  const perImage = ohw * perPixel;
  if (perImage <= chunkBytes) {
    const nb = Math.max(1, Math.floor(chunkBytes / perImage));
    for (let n0 = 0; n0 < n; n0 += nb) out.push({ n0, nb: Math.min(nb, n - n0), p0: 0, cols: ohw });
    return out;
  }
  const cols = Math.max(4, Math.floor(chunkBytes / perPixel / 4) * 4);
  for (let n0 = 0; n0 < n; n0++) for (let p0 = 0; p0 < ohw; p0 += cols) out.push({ n0, nb: 1, p0, cols: Math.min(cols, ohw - p0) });
  return out;
}

/** IM2COL's uniform block for a chunk (`count`, `first` and `n0` as struct Params in the shader reads them). */
function gemmParams(kdim: number, ld4: number, count: number, first: number, n0: number, xp: Tensor, g: ConvGeom, oh: number, ow: number): Uint8Array {
  const [, c, hp, wp] = xp.shape as [number, number, number, number];
  const u = packUniformBlock(IM2COL, {
    kdim,
    ld4,
    count,
    first,
    n0,
    ohw: oh * ow,
    ow,
    oh,
    sh: g.sh,
    sw: g.sw,
    wp,
    x_batch: c * hp * wp,
    seg: ROWS_SEG,
    pad0: 0,
    pad1: 0,
    pad2: 0,
  });
  return new Uint8Array(u);
}

/**
 * Writes bias (broadcast over channels) plus the residual into y before the product accumulates there;
 * returns whether there was anything to write. One pass over y: ~2% of a 3x3 convolution's time.
 */
function initOutput(y: Tensor, bias: Tensor | null, res: Tensor | null): boolean {
  if (!bias && !res) return false;
  const [, o, oh, ow] = y.shape as [number, number, number, number];
  if (!bias) {
    y.runtime.copy(res!.bufferFor('conv2d'), 0, y.bufferFor('conv2d'), 0, y.size * 4);
    return true;
  }
  const buf = bias.bufferFor('conv2d');
  y.runtime.dispatch(
    initKernel,
    { WG: 64, HAS_BIAS: 1, HAS_RES: res ? 1 : 0 },
    bindingsByName(INIT_OUT, { bias: buf, res: res ? res.bufferFor('conv2d') : buf, y: y.bufferFor('conv2d') }),
    new Uint8Array(packUniformBlock(INIT_OUT, { total: y.size, ohw: oh * ow, o, pad0: 0 })),
    grid(Math.ceil(y.size / 4 / 64)),
  );
  return true;
}

/** A 1x1, stride-1 convolution: its input already is the product's operand, no im2col needed. */
function pointwise(g: ConvGeom): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1;
}

/**
 * Forward as matmuls: per chunk, col [nb][kdim][cols] = im2col(xp), then y[b] = w [o][kdim] col[b],
 * stored (with the bias/residual accumulation and ReLU) straight into the chunk's part of y.
 */
export function gemmForward(
  xp: Tensor,
  w: Tensor,
  g: ConvGeom,
  oh: number,
  ow: number,
  koffTable: () => GPUBuffer,
  bias: Tensor | null,
  res: Tensor | null,
  relu: boolean,
  variant: GemmKernel,
): Tensor {
  const [n, c] = xp.shape as [number, number, number, number];
  const o = w.shape[0]!;
  const ohw = oh * ow;
  const kdim = c * g.kh * g.kw;
  const y = empty([n, o, oh, ow]);
  if (y.size === 0) return y;
  const rt = y.runtime;
  const accumulate = initOutput(y, bias, res);
  const f16 = useF16(rt, 'conv-forward');
  // w is [o][kdim]; the product wants it k-major, [kdim][o] (a small copy).
  const A = packKMajor(w, { rows: o, k: kdim, kMajorSource: false, stride: 0, batch: 1, f16 });
  const plan = { m: o, k: kdim, strideC: o * ohw, ldc: ohw, accumulate, relu };
  if (pointwise(g)) {
    const B = packKMajor(xp, { rows: ohw, k: c, kMajorSource: true, stride: c * ohw, batch: n, f16 });
    productKMajor(A, B, y, { ...plan, batch: n, n: ohw, offC: 0 }, variant);
    B.copy?.dispose();
  } else {
    const koff = koffTable();
    const k3 = g.kw === 3 && g.dw === 1 && g.sw <= 2 && ow % 4 === 0;
    const list = chunksOf(rt, n, ohw, kdim * 4);
    // One buffer serves every chunk: the dispatches run in order, so a chunk's im2col waits for the
    // previous product to finish reading.
    // (f16: two halves per f32 element of the tensor that holds them)
    const col = empty([list[0]!.nb, kdim, Math.ceil(list[0]!.cols / 4) * (f16 ? 2 : 4)]);
    for (const ch of list) {
      const ld4 = Math.ceil(ch.cols / 4);
      rt.dispatch(
        f16Kernel(k3 ? cols3Kernel : colsKernel, f16),
        k3 ? { WG: COLS_WG, SW: g.sw } : { WG: COLS_WG },
        bindingsByName(IM2COL, { xp: xp.bufferFor('conv2d'), koff, col: col.bufferFor('conv2d') }),
        gemmParams(kdim, ld4, ch.cols, ch.p0, ch.n0, xp, g, oh, ow),
        [Math.ceil(ld4 / COLS_WG), Math.min(k3 ? kdim / 3 : kdim, 32), ch.nb],
      );
      const B: KMajor = { buffer: col.bufferFor('conv2d'), ld4, stride: kdim * ld4 * 4, offset: 0, copy: null, f16 };
      productKMajor(A, B, y, { ...plan, batch: ch.nb, n: ch.cols, offC: ch.n0 * o * ohw + ch.p0 }, variant);
    }
    col.dispose();
  }
  A.copy?.dispose();
  return y;
}

/**
 * Weight gradient as matmuls with the pixels as the reduction: per chunk, dw [o][kdim] +=
 * dy' [pixels][o]^T row [pixels][kdim], dy' a packed slice of dy and row = im2col(xp) with patch
 * elements along its rows (for 1x1 stride-1 convolutions, a packed slice of xp).
 */
export function gemmWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeom, koffTable: () => GPUBuffer, variant: GemmKernel): Tensor {
  const [n, c] = xp.shape as [number, number, number, number];
  const [, o, oh, ow] = dy.shape as [number, number, number, number];
  const ohw = oh * ow;
  const kdim = c * g.kh * g.kw;
  const kld4 = Math.ceil(kdim / 4);
  const dw = empty([o, c, g.kh, g.kw]);
  const rt = dw.runtime;
  const koff = pointwise(g) ? null : koffTable();
  const f16 = useF16(rt, 'conv-weight');
  const list = chunksOf(rt, n, ohw, (Math.ceil(o / 4) + kld4) * 16);
  // Buffers reused by every chunk (dispatches run in order); f16 ones hold two halves per element.
  const most = list[0]!.nb * list[0]!.cols;
  const dyT = empty([most, Math.ceil(o / 4) * (f16 ? 2 : 4)]);
  const row = empty([most, kld4 * (f16 ? 2 : 4)]);
  list.forEach((ch, i) => {
    const count = ch.nb * ch.cols;
    const A = packKMajor(dy, { rows: o, k: ch.cols, kMajorSource: false, stride: o * ohw, batch: ch.nb, offset: ch.n0 * o * ohw + ch.p0, ld: ohw, into: dyT, f16 });
    let B: KMajor;
    if (!koff) {
      B = packKMajor(xp, { rows: c, k: ch.cols, kMajorSource: false, stride: c * ohw, batch: ch.nb, offset: ch.n0 * c * ohw + ch.p0, ld: ohw, into: row, f16 });
    } else {
      const segs = Math.ceil(count / ROWS_SEG);
      const [gy, gz] = segs <= 65535 ? [segs, 1] : [65535, Math.ceil(segs / 65535)];
      rt.dispatch(
        f16Kernel(rowsKernel, f16),
        { WG: ROWS_WG },
        bindingsByName(IM2COL, { xp: xp.bufferFor('conv2d'), koff, col: row.bufferFor('conv2d') }),
        gemmParams(kdim, kld4, count, ch.n0 * ohw + ch.p0, 0, xp, g, oh, ow),
        [Math.ceil(kld4 / ROWS_WG), gy, gz],
      );
      B = { buffer: row.bufferFor('conv2d'), ld4: kld4, stride: 0, offset: 0, copy: null, f16 };
    }
    productKMajor(A, B, dw, { batch: 1, m: o, n: kdim, k: count, strideC: 0, offC: 0, ldc: kdim, accumulate: i > 0 }, variant);
  });
  dyT.dispose();
  row.dispose();
  return dw;
}

/**
 * The input gradient dx [n, c, h, w] (groups 1) from the output gradient gy [n, o, oh, ow] (forward
 * padding pt on top, pl on the left), plus a per-channel bias when given (convTranspose2d's forward):
 * per chunk of whole images, dcol [kdim][oh*ow] = w^T gy (both operands already k-major as stored, no
 * packing), then col2im gathers each input pixel's taps. The product has exactly the forward's size at
 * any stride. Null when one image's dcol exceeds the chunk budget (the caller then falls back).
 */
export function gemmInputGrad(gy: Tensor, w: Tensor, g: ConvGeom, pt: number, pl: number, h: number, wd: number, bias: Tensor | null, v: GemmKernel): Tensor | null {
  const [n, o, oh, ow] = gy.shape as [number, number, number, number];
  const [, c, kh, kw] = w.shape as [number, number, number, number];
  const ohw = oh * ow;
  const kdim = c * kh * kw;
  const rt = gy.runtime;
  const list = chunksOf(rt, n, ohw, kdim * 4);
  if (list[0]!.cols < ohw) return null;
  const dx = empty([n, c, h, wd]);
  if (dx.size === 0) return dx;
  // w [o][kdim] is k-major for this product as stored, gy[b] [o][ohw] too (f16: packed copies).
  const f16 = useF16(rt, 'conv-input');
  const A = packKMajor(w, { rows: kdim, k: o, kMajorSource: true, stride: 0, batch: 1, f16 });
  if (pointwise(g) && pt === 0 && pl === 0 && h === oh && wd === ow && !bias) {
    // A 1x1, stride-1 gradient without padding: the product already is dx.
    const B = packKMajor(gy, { rows: ohw, k: o, kMajorSource: true, stride: o * ohw, batch: n, f16 });
    productKMajor(A, B, dx, { batch: n, m: kdim, n: ohw, k: o, strideC: kdim * ohw, offC: 0, ldc: ohw }, v);
    B.copy?.dispose();
    A.copy?.dispose();
    return dx;
  }
  const nb = list[0]!.nb;
  const dcol = empty([nb, kdim, ohw]);
  const w4 = Math.ceil(wd / 4);
  const consts = { WG: COLS_WG, SH: g.sh, SW: g.sw, HAS_BIAS: bias ? 1 : 0 };
  for (const ch of list) {
    const B = packKMajor(gy, { rows: ohw, k: o, kMajorSource: true, stride: o * ohw, batch: ch.nb, offset: ch.n0 * o * ohw, f16 });
    productKMajor(A, B, dcol, { batch: ch.nb, m: kdim, n: ohw, k: o, strideC: kdim * ohw, offC: 0, ldc: ohw }, v);
    B.copy?.dispose();
    const rows = ch.nb * c * h;
    const db = dcol.bufferFor('conv2d');
    rt.dispatch(
      col2imKernel,
      consts,
      bindingsByName(COL2IM, { dcol: db, cbias: bias ? bias.bufferFor('conv2d') : db, dx: dx.bufferFor('conv2d') }),
      new Uint8Array(
        packUniformBlock(COL2IM, { w4, h, w: wd, rows, oh, ow, pt, pl, out0: ch.n0 * c * h * wd, c, kh, kw, dh: g.dh, dw: g.dw, pad0: 0, pad1: 0 }),
      ),
      grid(Math.ceil((rows * w4) / COLS_WG)),
    );
  }
  dcol.dispose();
  A.copy?.dispose();
  return dx;
}
