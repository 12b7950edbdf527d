/**
 * The task heads an architecture can put on its encoder, as a typed table keyed by kind: 'aspp'
 * (DeepLab v3, the survey's head for its ResNet models), 'conv' (FCN-style 3x3 conv-BN-ReLU + 1x1),
 * 'fpn' (a semantic-FPN head over c1..c4) and 'hrnet' (the survey's head for HRNet: c1..c4
 * upsampled to c1 and concatenated, 1x1 conv-BN-ReLU, 1x1 classifier). Defaults scale with the
 * encoder's width so that a narrow encoder gets a narrow head; the default kind is 'hrnet' on an
 * HRNet and 'aspp' otherwise, as in the survey's configs.
 */
import { ArgumentError } from '../../errors.js';
import type { LevelInfo } from '../../nn/backbones/features.js';
import { ASPPHead } from '../../nn/heads/aspp-head.js';
import { ConvHead } from '../../nn/heads/conv-head.js';
import { FPNHead } from '../../nn/heads/fpn-head.js';
import { HighResolutionHead } from '../../nn/heads/hrnet-head.js';
import type { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defaultRates, type BackboneSpec } from './backbone-spec.js';

/** The head kinds. */
export type HeadKind = 'conv' | 'aspp' | 'fpn' | 'hrnet';

/** Heads that read one feature map (c4); architectures whose heads get a single tensor use these. */
export type SingleLevelHeadKind = Exclude<HeadKind, 'fpn' | 'hrnet'>;

/** Options of the task heads. */
export interface HeadOptions<K extends HeadKind = HeadKind> {
  /** Head kind (default 'hrnet' on an HRNet encoder, else 'aspp'). */
  kind?: K;
  /**
   * Hidden channels: ASPP branches / FPN pyramid (default 4 x the stem's channels, i.e. 256 at
   * width 1 as the survey, 64 at width 0.25); the 3x3 conv of 'conv' (default c4 channels / 4).
   * Not for 'hrnet', whose width is the sum of c1..c4's.
   */
  channels?: number;
  /** ASPP dilation rates (default by output stride: [12, 24, 36] at 8, [6, 12, 18] at 16, [3, 6, 9] at 32). */
  rates?: readonly number[];
}

/** A task head: backbone features (or, for single-level kinds, the c4 map) in, logits out. */
export type DenseHead = ConvHead | ASPPHead | FPNHead | HighResolutionHead;

/** What a head is built from: the encoder's levels and output stride. */
export interface HeadContext {
  readonly channels: LevelInfo;
  readonly strides: LevelInfo;
}

type HeadBuilder<K extends HeadKind> = (ctx: HeadContext, outChannels: number, opts: HeadOptions<K>, generator?: Generator) => HeadOf<K>;
type HeadOf<K extends HeadKind> = { conv: ConvHead; aspp: ASPPHead; fpn: FPNHead; hrnet: HighResolutionHead }[K];

const wide = (ctx: HeadContext, opts: HeadOptions) => opts.channels ?? Math.max(8, 4 * ctx.channels.stem);

/** Head kind -> builder; a kind without a builder does not compile. */
export const HEADS: { readonly [K in HeadKind]: HeadBuilder<K> } = {
  conv: (ctx, out, opts, generator) => new ConvHead(ctx.channels.c4, out, { midChannels: opts.channels, generator }),
  aspp: (ctx, out, opts, generator) =>
    new ASPPHead(ctx.channels.c4, out, { channels: wide(ctx, opts), rates: opts.rates ?? defaultRates(ctx.strides.c4), generator }),
  fpn: (ctx, out, opts, generator) =>
    new FPNHead([ctx.channels.c1, ctx.channels.c2, ctx.channels.c3, ctx.channels.c4], out, { channels: wide(ctx, opts), generator }),
  hrnet: (ctx, out, _opts, generator) => new HighResolutionHead([ctx.channels.c1, ctx.channels.c2, ctx.channels.c3, ctx.channels.c4], out, generator),
};

/**
 * The head kind used when the options name none: 'hrnet' for an hrnet18 encoder (the survey's
 * HRNet configs), 'aspp' otherwise (its ResNet configs; also for encoder factories).
 */
export function defaultHeadKind(backbone?: BackboneSpec): HeadKind {
  return typeof backbone === 'object' && backbone.name === 'hrnet18' ? 'hrnet' : 'aspp';
}

/** `opts` with its kind filled in by {@link defaultHeadKind} when it names none. */
export function withDefaultKind(opts: HeadOptions = {}, backbone?: BackboneSpec): HeadOptions {
  return { ...opts, kind: opts.kind ?? defaultHeadKind(backbone) };
}

/**
 * Validates head options before anything is built: throws an ArgumentError naming `op` for an
 * unknown kind or one outside `allowed` (listing the valid ones), or for rates on a non-ASPP head.
 * Returns the kind (default 'aspp').
 */
export function checkHead(op: string, opts: HeadOptions = {}, allowed: readonly HeadKind[] = Object.keys(HEADS) as HeadKind[]): HeadKind {
  const kind = opts.kind ?? 'aspp';
  if (!Object.hasOwn(HEADS, kind) || !allowed.includes(kind)) {
    throw new ArgumentError(op, `unknown head '${String(kind)}' (valid: ${allowed.join(', ')})`);
  }
  if (opts.rates !== undefined && kind !== 'aspp') throw new ArgumentError(op, `head option 'rates' applies to 'aspp' heads only, not '${kind}'`);
  if (opts.channels !== undefined && kind === 'hrnet') {
    throw new ArgumentError(op, "head option 'channels' does not apply to 'hrnet' heads (their width is the sum of c1..c4's)");
  }
  return kind;
}

/**
 * A head of `opts.kind` (default 'aspp') producing `outChannels` logits from an encoder described
 * by `ctx`, after {@link checkHead} with `allowed` (architectures whose heads read one tensor pass
 * the single-level kinds).
 */
export function buildHead(
  op: string,
  ctx: HeadContext,
  outChannels: number,
  opts: HeadOptions = {},
  generator?: Generator,
  allowed?: readonly HeadKind[],
): DenseHead {
  const kind = checkHead(op, opts, allowed);
  return (HEADS[kind] as HeadBuilder<HeadKind>)(ctx, outChannels, opts, generator);
}

/** Runs a single-level head on one map (the c4-equivalent features of MTAN's tasks). */
export function runSingleLevelHead(head: DenseHead, x: Tensor): Tensor {
  if (head instanceof FPNHead || head instanceof HighResolutionHead) {
    throw new ArgumentError('runSingleLevelHead', `an ${head instanceof FPNHead ? 'FPN' : 'HRNet'} head needs multi-level features`);
  }
  return head.forward(x);
}
