/**
 * What PAD-Net and PAP-Net share around their own cross-task module: the encoder (with HRNet's
 * branch fusion when the backbone is HRNet), per-task initial predictions (deep supervision),
 * then, after the cross-task refinement each model defines, a head per task; outputs and the
 * initial predictions are resized to the input.
 */
import type { HighResolutionFuse } from '../../nn/heads/hrnet-head.js';
import { Conv2d, Sequential } from '../../nn/layers.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MultiTaskOutput } from './model.js';
import { lastConv, type EncoderBackbone } from './backbone-spec.js';
import { checkImage, resizeTo } from './common.js';
import { InitialTaskPrediction, bottleneckBlocks } from './decoder-blocks.js';
import { ModuleDict } from './module-dict.js';
import type { TaskSpec } from './common.js';

/** The parts of a refine-decoder model the shared forward reads. */
export interface RefineDecoderParts {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly fuse: HighResolutionFuse | null;
  readonly initial_task_prediction_heads: InitialTaskPrediction;
  readonly heads: ModuleDict<Sequential>;
}

/**
 * encoder -> initial predictions -> `refine` (the model's cross-task module, on the initial
 * features by task) -> heads; `op` names the model in input errors.
 */
export function refineDecoderForward(m: RefineDecoderParts, op: string, x: Tensor, refine: (features: Record<string, Tensor>) => Record<string, Tensor>): MultiTaskOutput {
  checkImage(op, x, m.backbone.inChannels);
  const [, , h, w] = x.shape as [number, number, number, number];
  return tidy(() => {
    const feats = m.backbone.forward(x);
    const f = m.fuse ? m.fuse.forward(feats) : feats.c4;
    const initial = m.initial_task_prediction_heads.forward(f);
    const refined = refine(initial.features);
    const outputs: Record<string, Tensor> = {};
    const auxiliary: Record<string, Tensor[]> = {};
    for (const t of m.taskNames) {
      outputs[t] = resizeTo(m.heads.get(t).forward(refined[t]!), h, w);
      auxiliary[t] = [resizeTo(initial.predictions[t]!, h, w)];
    }
    return { outputs, auxiliary, representation: f };
  });
}

/** The shared parameters: the encoder and, on HRNet, the branch fusion. */
export function refineDecoderShared(m: RefineDecoderParts): Tensor[] {
  return [...m.backbone.parameters(), ...(m.fuse ? m.fuse.parameters() : [])];
}

/** GradNorm's W: the fusion's last conv on HRNet, else the encoder's last conv. */
export function refineDecoderLastShared(m: RefineDecoderParts): Tensor {
  return m.fuse ? (m.fuse.last_layer.layers[0] as Conv2d).weight : lastConv(m.backbone).weight;
}

/** The initial per-task predictions: two Bottlenecks from the decoder's map (inC) to c channels, then a 1x1 classifier. */
export function initialPredictionHeads(op: string, tasks: readonly TaskSpec[], inC: number, c: number, g?: Generator): InitialTaskPrediction {
  return new InitialTaskPrediction(
    'layers',
    'conv_out',
    tasks.map((t) => ({ task: t.name, features: bottleneckBlocks(op, inC, c, g), classifier: new Conv2d(c, t.channels, 1, { generator: g }) })),
  );
}

/** The final head per task: two Bottlenecks on the refined c-channel features, then a 1x1 classifier. */
export function finalTaskHeads(op: string, tasks: readonly TaskSpec[], c: number, g?: Generator): ModuleDict<Sequential> {
  return new ModuleDict(tasks.map((t) => [t.name, new Sequential(...bottleneckBlocks(op, c, c, g).layers, new Conv2d(c, t.channels, 1, { generator: g }))] as const));
}
