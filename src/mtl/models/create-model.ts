/**
 * Building a model from a plain, JSON-friendly spec: a discriminated union keyed by `arch`, and a
 * typed table arch -> (accepted options, builder), so an architecture without a builder, or an
 * option a builder forgets to list, does not compile, and a bad spec is rejected with the valid
 * choices.
 */
import { ArgumentError } from '../../errors.js';
import { Generator } from '../../tensor/random.js';
import type { MultiTaskModel } from './model.js';
import type { BackboneName, BackboneOptions } from './backbone-spec.js';
import type { TaskSpec } from './common.js';
import { CrossStitchModel } from './cross-stitch.js';
import type { HeadKind, HeadOptions, SingleLevelHeadKind } from './head-spec.js';
import { MTANModel } from './mtan.js';
import { MTINetModel, type ScaleChannels } from './mtinet.js';
import { NDDRModel } from './nddr.js';
import { PADNetModel } from './padnet.js';
import { PAPNetModel } from './papnet.js';
import { JTRLModel } from './jtrl.js';
import { SharedEncoderModel } from './shared-encoder.js';
import { SingleTaskModel, type EncoderModelOptions } from './single-task.js';

/** Options every architecture accepts. */
interface CommonSpec<H extends HeadKind = HeadKind> {
  /**
   * Encoder (default 'resnet18'). 'hrnet18' fits single-task, shared-encoder, pad-net, mti-net, pap-net and jtrl;
   * cross-stitch, nddr and mtan work between ResNet stages and refuse it.
   */
  backbone?: BackboneName;
  /** Encoder width multiplier (default 1). */
  width?: number;
  /** ResNet output stride (default 8, the survey's dilated ResNet); hrnet18 takes only 32 (its fixed c4 stride). */
  outputStride?: 8 | 16 | 32;
  /** Image channels (default 3). */
  inChannels?: number;
  /** Head kind (default 'hrnet' on hrnet18, else 'aspp'). */
  head?: H;
  /** Head hidden channels (see HeadOptions.channels). */
  headChannels?: number;
  /** ASPP rates (default by output stride). */
  rates?: number[];
  /** Seed of the initial weights (default: the global generator). */
  seed?: number;
}

/**
 * Options of the decoder-focused architectures: the encoder's, no head options (they build their
 * own decoders). The head keys are declared `never` so code can read `spec.head` on any ModelSpec;
 * they are not accepted keys (see {@link ArchEntry.keys}).
 */
type DecoderSpec = Omit<CommonSpec, 'head' | 'headChannels' | 'rates'> & { head?: never; headChannels?: never; rates?: never };

/** A model description; `createModel(spec, tasks)` builds it. */
export type ModelSpec =
  | ({ arch: 'single-task' } & CommonSpec)
  | ({ arch: 'shared-encoder' } & CommonSpec)
  | ({ arch: 'cross-stitch'; alpha?: number; beta?: number } & CommonSpec)
  | ({ arch: 'nddr'; alpha?: number; beta?: number } & CommonSpec)
  | ({ arch: 'mtan' } & CommonSpec<SingleLevelHeadKind>)
  /** PAD-Net; `channels`: task feature channels (default 4 x the stem's; outputStride defaults to 8). */
  | ({ arch: 'pad-net'; channels?: number } & DecoderSpec)
  /**
   * MTI-Net; `taskChannels`: per-scale task channels, finest first (default the encoder's c1..c4),
   * `seReduction`: the FPM's SE ratio (default 16); outputStride defaults to 32 here.
   */
  | ({ arch: 'mti-net'; taskChannels?: ScaleChannels; seReduction?: number } & DecoderSpec)
  /**
   * PAP-Net; `channels` as PAD-Net's, `affinityScale`: downsampling of the affinity grid (default 2),
   * `iterations` of diffusion (default 3), `beta`: weight of the propagated features (default 0.5).
   */
  | ({ arch: 'pap-net'; channels?: number; affinityScale?: number; iterations?: number; beta?: number } & DecoderSpec)
  /** JTRL; `channels`: every recursion step's width (default 2 x the stem's); outputStride defaults to 32; two or more tasks. */
  | ({ arch: 'jtrl'; channels?: number } & DecoderSpec);

/** The architecture names. */
export type Arch = ModelSpec['arch'];

type SpecOf<A extends Arch> = Extract<ModelSpec, { arch: A }>;

interface ArchEntry<A extends Arch> {
  /**
   * Every key the spec may hold (a key type without an entry does not compile); keys typed
   * `never` exist for reading only and are left out, so createModel rejects them.
   */
  readonly keys: { readonly [K in keyof SpecOf<A> as [SpecOf<A>[K]] extends [undefined] ? never : K]-?: true };
  readonly build: (spec: SpecOf<A>, tasks: readonly TaskSpec[]) => MultiTaskModel;
}

const COMMON_KEYS = {
  arch: true,
  backbone: true,
  width: true,
  outputStride: true,
  inChannels: true,
  head: true,
  headChannels: true,
  rates: true,
  seed: true,
} as const;

const DECODER_KEYS = { arch: true, backbone: true, width: true, outputStride: true, inChannels: true, seed: true } as const;

function encoderOptions<H extends HeadKind>(spec: CommonSpec<H>): EncoderModelOptions & { head: HeadOptions<H> } {
  const backbone: BackboneOptions = { name: spec.backbone, widthMultiplier: spec.width, outputStride: spec.outputStride, inChannels: spec.inChannels };
  return {
    backbone,
    head: { kind: spec.head, channels: spec.headChannels, rates: spec.rates },
    generator: spec.seed === undefined ? undefined : new Generator(spec.seed),
  };
}

/** Architecture -> accepted keys and builder. */
export const ARCHITECTURES: { readonly [A in Arch]: ArchEntry<A> } = {
  'single-task': {
    keys: COMMON_KEYS,
    build: (spec, tasks) => {
      if (tasks.length !== 1) {
        throw new ArgumentError('createModel', `'single-task' takes exactly one task, got ${tasks.length} (build one model per task)`);
      }
      return new SingleTaskModel(tasks[0]!, encoderOptions(spec));
    },
  },
  'shared-encoder': { keys: COMMON_KEYS, build: (spec, tasks) => new SharedEncoderModel(tasks, encoderOptions(spec)) },
  'cross-stitch': {
    keys: { ...COMMON_KEYS, alpha: true, beta: true },
    build: (spec, tasks) => new CrossStitchModel(tasks, { ...encoderOptions(spec), alpha: spec.alpha, beta: spec.beta }),
  },
  nddr: {
    keys: { ...COMMON_KEYS, alpha: true, beta: true },
    build: (spec, tasks) => new NDDRModel(tasks, { ...encoderOptions(spec), alpha: spec.alpha, beta: spec.beta }),
  },
  mtan: { keys: COMMON_KEYS, build: (spec, tasks) => new MTANModel(tasks, encoderOptions(spec)) },
  'pad-net': {
    keys: { ...DECODER_KEYS, channels: true },
    build: (spec, tasks) => {
      const { backbone, generator } = encoderOptions(spec);
      return new PADNetModel(tasks, { backbone, generator, channels: spec.channels });
    },
  },
  'mti-net': {
    keys: { ...DECODER_KEYS, taskChannels: true, seReduction: true },
    build: (spec, tasks) => {
      const { backbone, generator } = encoderOptions(spec);
      return new MTINetModel(tasks, { backbone, generator, taskChannels: spec.taskChannels, seReduction: spec.seReduction });
    },
  },
  'pap-net': {
    keys: { ...DECODER_KEYS, channels: true, affinityScale: true, iterations: true, beta: true },
    build: (spec, tasks) => {
      const { backbone, generator } = encoderOptions(spec);
      return new PAPNetModel(tasks, { backbone, generator, channels: spec.channels, scale: spec.affinityScale, iterations: spec.iterations, beta: spec.beta });
    },
  },
  jtrl: {
    keys: { ...DECODER_KEYS, channels: true },
    build: (spec, tasks) => {
      const { backbone, generator } = encoderOptions(spec);
      return new JTRLModel(tasks, { backbone, generator, channels: spec.channels });
    },
  },
};

/**
 * Builds the model `spec` describes for `tasks`. Throws an ArgumentError listing the valid choices
 * for an unknown architecture or an option the architecture does not take; the builders reject bad
 * values (unknown backbone or head, empty or duplicate task names, ...).
 */
export function createModel(spec: ModelSpec, tasks: readonly TaskSpec[]): MultiTaskModel {
  const arch = (spec as { arch?: unknown } | null)?.arch;
  if (typeof arch !== 'string' || !Object.hasOwn(ARCHITECTURES, arch)) {
    throw new ArgumentError('createModel', `unknown architecture ${JSON.stringify(arch)} (valid: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  const entry = ARCHITECTURES[arch as Arch] as unknown as ArchEntry<Arch>;
  const unknown = Object.keys(spec).filter((k) => !Object.hasOwn(entry.keys, k));
  if (unknown.length > 0) {
    throw new ArgumentError('createModel', `'${arch}' does not take ${unknown.map((k) => `'${k}'`).join(', ')} (valid options: ${Object.keys(entry.keys).join(', ')})`);
  }
  return entry.build(spec, tasks);
}

/** True when architecture `arch` takes the spec key `key` (e.g. whether it has head options). */
export function archTakes(arch: string, key: string): boolean {
  if (!Object.hasOwn(ARCHITECTURES, arch)) return false;
  return Object.hasOwn((ARCHITECTURES[arch as Arch] as unknown as ArchEntry<Arch>).keys, key);
}
