/**
 * Seeded, reproducible dropout (torch.nn.functional.dropout and dropout2d).
 *
 * The mask is computed in WGSL (shaders/dropout.wgsl) from a counter-based hash of
 * (seed, offset, element index): no random numbers are uploaded and nothing is read back. A
 * {@link DropoutRng} hands out (seed, offset) pairs, advancing the offset by one per call that draws
 * a mask, so saving and restoring its two integers resumes the exact sequence of masks.
 *
 * Backward recomputes the mask rather than saving it: y = x * m gives dx = gy * m, which is the same
 * kernel with the same uniforms applied to gy. The hash is a pure function, so the recomputed mask is
 * bit-identical, the graph holds no mask buffer between forward and backward (activation memory is
 * what limits training batches), and the cost is a few integer ops per element in a kernel that is
 * memory-bound anyway.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { bindingsByName, packUniformBlock, type KernelDescriptor } from '../gpu/kernel-descriptor.js';
import { fileKernel } from '../gpu/pipeline-cache.js';
import { grid } from '../gpu/runtime.js';
import { empty } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { affine } from './unary.js';
import { WG, requireF32 } from './kernels/util.js';
import { fits, flatChunks, range } from './kernels/split.js';

/** The two integers that fix every future dropout mask of a {@link DropoutRng}. */
export interface DropoutRngState {
  /** 32-bit unsigned seed. */
  seed: number;
  /** Number of masks drawn so far (a non-negative safe integer). */
  offset: number;
}

function checkState(op: string, seed: number, offset: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentError(op, `seed must be an integer in [0, 2^32), got ${seed}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ArgumentError(op, `offset must be a non-negative safe integer, got ${offset}`);
}

/**
 * The state behind dropout masks: a seed and an offset that advances by one per mask drawn. Two
 * generators with equal state produce equal masks on every adapter. Save `getState()` with a
 * checkpoint and `setState()` it on resume to continue bit for bit.
 */
export class DropoutRng {
  private seed_: number;
  private offset_: number;

  constructor(seed = 0, offset = 0) {
    checkState('DropoutRng', seed, offset);
    this.seed_ = seed;
    this.offset_ = offset;
  }

  /** The current state (a copy). */
  getState(): DropoutRngState {
    return { seed: this.seed_, offset: this.offset_ };
  }

  /** Restores a state saved with getState(). */
  setState(s: DropoutRngState): void {
    checkState('DropoutRng.setState', s.seed, s.offset);
    this.seed_ = s.seed;
    this.offset_ = s.offset;
  }

  /** Reseeds and rewinds the offset to 0. */
  manualSeed(seed: number): void {
    this.setState({ seed, offset: 0 });
  }

  /** The state to draw the next mask with; advances the offset. */
  next(): DropoutRngState {
    const s = this.getState();
    this.offset_++;
    return s;
  }
}

/** The generator dropout uses when none is given (save its state in checkpoints). */
export const defaultDropoutRng = new DropoutRng(0x5eed);

/** Options of {@link dropout} and {@link dropout2d}. */
export interface DropoutOptions {
  /** Apply dropout (default true, as torch.nn.functional.dropout); false returns x itself. */
  training?: boolean;
  /** Where (seed, offset) come from (default: {@link defaultDropoutRng}). */
  rng?: DropoutRng;
}

/**
 * The contract of shaders/dropout.wgsl: four elements per invocation; the 64-bit offset as two
 * words; base4 is the chunk's first vec4 in the whole tensor, so chunked masks match unchunked ones.
 */
const DROPOUT: KernelDescriptor = {
  name: 'dropout',
  bindings: [
    { name: 'x', access: 'read', type: 'vec4<f32>' },
    { name: 'y', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: [
    { name: 'n4', type: 'u32' },
    { name: 'group', type: 'u32' },
    { name: 'seed', type: 'u32' },
    { name: 'off_lo', type: 'u32' },
    { name: 'off_hi', type: 'u32' },
    { name: 'threshold', type: 'u32' },
    { name: 'scale', type: 'f32' },
    { name: 'base4', type: 'u32' },
  ],
  constants: { WG: { type: 'u32' } },
};

const dropoutKernel = fileKernel(DROPOUT, 'dropout');

/**
 * The keep threshold for drop probability p on 32-bit hashes: an element is kept when its hash is
 * >= the threshold, so the keep probability is 1 - threshold / 2^32 (p rounded to 2^-32).
 */
export function dropoutThreshold(p: number): number {
  return Math.min(0xffffffff, Math.round(p * 4294967296));
}

/** x * mask (recomputed from `s`), the mask shared by runs of `group` consecutive elements. */
function applyMask(x: Tensor, p: number, group: number, s: DropoutRngState): Tensor {
  const y = empty(x.shape);
  const rt = y.runtime;
  // One binding's worth at a time when x is larger (chunks start at multiples of the limit, aligned).
  const list: [number, number][] = fits(rt, x) ? [[0, x.size]] : flatChunks(rt, x.size);
  for (const [s0, n] of list) {
    const n4 = Math.ceil(n / 4);
    const u = packUniformBlock(DROPOUT, {
      n4,
      group,
      seed: s.seed,
      off_lo: s.offset >>> 0,
      off_hi: Math.floor(s.offset / 4294967296),
      threshold: dropoutThreshold(p),
      scale: 1 / (1 - p),
      base4: s0 / 4,
    });
    const whole = list.length === 1;
    const buffers = bindingsByName(DROPOUT, {
      x: whole ? x.bufferFor('dropout') : range(x, s0, n, 'dropout'),
      y: whole ? y.bufferFor('dropout') : range(y, s0, n, 'dropout'),
    });
    rt.dispatch(dropoutKernel, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
  return y;
}

function checkP(op: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(op, `dropout probability must be in [0, 1], got ${p}`);
}

function maskedDropout(op: string, x: Tensor, p: number, group: number, opts: DropoutOptions): Tensor {
  checkP(op, p);
  requireF32(op, x);
  x.storageFor(op);
  // As ATen: no mask drawn (and no offset consumed) for p = 0, eval mode or an empty input.
  if (!(opts.training ?? true) || p === 0 || x.size === 0) return x;
  // p = 1 is x * 0 (ATen's choice: NaN and infinities give NaN), gradient 0.
  if (p === 1) return affine(x, 0);
  const s = (opts.rng ?? defaultDropoutRng).next();
  const y = applyMask(x, p, group, s);
  // d (x * m) = m * dx: the same mask, recomputed from the same (seed, offset)
  return record(op, [x], y, [], (gy) => [applyMask(gy, p, group, s)]);
}

/**
 * Dropout (torch.nn.functional.dropout): in training mode each element of x is zeroed with
 * probability p and the kept ones are scaled by 1 / (1 - p) (inverted dropout), so eval mode is the
 * identity. The mask is drawn from `opts.rng` (one offset per call); p = 0, eval mode and empty
 * inputs return x itself, p = 1 returns x * 0.
 */
export function dropout(x: Tensor, p = 0.5, opts: DropoutOptions = {}): Tensor {
  return maskedDropout('dropout', x, p, 1, opts);
}

/**
 * Channel dropout (torch.nn.functional.dropout2d) of x [N, C, H, W]: whole (n, c) planes are zeroed
 * with probability p and the rest scaled by 1 / (1 - p). Otherwise as {@link dropout}.
 */
export function dropout2d(x: Tensor, p = 0.5, opts: DropoutOptions = {}): Tensor {
  const op = 'dropout2d';
  if (x.rank !== 4) throw new ShapeError(op, [x.shape], 'input must be NCHW (rank 4)');
  return maskedDropout(op, x, p, Math.max(1, x.shape[2]! * x.shape[3]!), opts);
}
