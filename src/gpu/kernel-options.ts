/**
 * Per-runtime switches that change which kernels ops run, for tests, benchmarks and the autotune.
 * They live on the Runtime (runtime().kernelOptions), never in module state, so one runtime's
 * settings reach no other; `Runtime.withKernelOptions` sets some for the length of a call and
 * restores them after, even when the call throws.
 */

/** The kernels a convolution pass can run (see src/ops/kernels/conv.ts). */
export type ConvVariantName = 'direct' | 'outer' | 'tiled';

/** Products that can read f16 operands when the runtime's `f16` switch is on (src/ops/kernels/f16.ts). */
export type F16Pass = 'matmul' | 'conv-forward' | 'conv-input' | 'conv-weight';

/** The switches (see the file comment). */
export interface KernelOptions {
  /** Every ungrouped convolution pass runs this variant; null: the tuning table, else the shape rule. */
  convVariant: ConvVariantName | null;
  /** Upper bound of one im2col chunk (with its packed output-gradient slice), in bytes. */
  convChunkBytes: number;
  /**
   * Which products use f16 operands while `f16` is on. The convolution gradients stay f32 by default:
   * both read the output gradient, whose values (a loss averaged over many pixels) often lie below
   * f16's normal range (6.1e-5), where f16 keeps few significant bits; that needs loss scaling.
   */
  f16Passes: Readonly<Record<F16Pass, boolean>>;
  /**
   * Register block of the direct forward convolution: bo output channels (1 to 8) x 4*bp pixels (bp 1
   * or 2; the row kernel takes 8 pixels whatever bp). null: the shape rule (src/ops/kernels/conv.ts,
   * `directForwardBlock`).
   */
  convForwardBlock: Readonly<{ bo: number; bp: 1 | 2 }> | null;
  /**
   * Register block of the direct weight gradient: bo output channels (1 to 8) x 4*bk reduction indices
   * (bk 1 or 2). null: the shape rule (src/ops/kernels/conv.ts, `directWeightBlock`).
   */
  convWeightBlock: Readonly<{ bo: number; bk: 1 | 2 }> | null;
  /**
   * The direct forward takes shaders/conv2d.wgsl's `row` kernel where the geometry allows (horizontal
   * stride and dilation 1): 8 pixels of one output row per invocation share their input loads. On by
   * default; off runs `main` (with `convForwardBlock`), which tests compare against.
   */
  convForwardRow: boolean;
  /**
   * Normalisation passes over rows of 4k elements (and the batch-norm fold over 4k weights per
   * channel) take the vec4 kernels (shaders/norm-vec4.wgsl). On by default, the faster choice; off
   * runs the scalar kernels, which tests compare the vec4 ones against and benchmarks measure.
   */
  normVec4: boolean;
  /**
   * A batch norm's fused ReLU applies its gradient mask inside the passes that read gy. On by default;
   * off runs one separate masking pass first (its output is also the residual's gradient): the
   * unfused path that tests check the fused one against and benchmarks compare it with. Read when the
   * backward runs, not at the forward, so a comparison sets it around both.
   */
  normFoldMask: boolean;
  /**
   * Eval-mode batch norm without a graph reads the running statistics in its apply pass. On by
   * default; off dispatches eval_stats first, the two-pass path tests and benchmarks compare against.
   */
  normEvalInline: boolean;
}

/** The defaults every runtime starts with. */
export function defaultKernelOptions(): KernelOptions {
  return {
    convVariant: null,
    convChunkBytes: 32 << 20,
    f16Passes: { matmul: true, 'conv-forward': true, 'conv-input': false, 'conv-weight': false },
    convForwardBlock: null,
    convWeightBlock: null,
    convForwardRow: true,
    normVec4: true,
    normFoldMask: true,
    normEvalInline: true,
  };
}
