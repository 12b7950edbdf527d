/**
 * Eval-mode batch norm folded into the convolution before it (the `fold_conv` entry points of
 * shaders/norm.wgsl and shaders/norm-vec4.wgsl), so that an eval forward runs the convolution with a
 * fused bias epilogue instead of a batch-norm pass.
 */
import { bindingsByName, packUniformBlock } from '../../gpu/kernel-descriptor.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, wgGrid } from './util.js';
import { fits, putRows, rowsPerChunk, takeRows } from './split.js';
import { NORM, NORM4, normKernel } from './norm-descriptors.js';

/**
 * Eval-mode batch norm folded into the convolution before it: with s = w / sqrt(var + eps) per
 * output channel o, weight' [o, ...] = convWeight [o, ...] * s[o] and bias' = b + (convBias - mean) * s
 * (w, b and convBias optional). One dispatch; the inputs are read on the GPU, so the fold follows
 * parameter updates without a readback.
 */
export function foldConvBatchNorm(
  convWeight: Tensor,
  convBias: Tensor | null,
  w: Tensor | null,
  b: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  eps: number,
): { weight: Tensor; bias: Tensor } {
  const o = convWeight.shape[0]!;
  const k = o === 0 ? 0 : convWeight.size / o;
  const weight = empty(convWeight.shape);
  const bias = empty([o]);
  if (o * k === 0) return { weight, bias };
  const rt = weight.runtime;
  if (!fits(rt, convWeight)) {
    // Chunks of output channels, each chunk's weights one binding.
    const per = rowsPerChunk(rt, k * 4);
    for (let o0 = 0; o0 < o; o0 += per) {
      const ob = Math.min(per, o - o0);
      const cut = [convWeight, convBias, w, b, mean, variance].map((t) => t && takeRows(t, o0, ob));
      const r = foldConvBatchNorm(cut[0]!, cut[1]!, cut[2]!, cut[3]!, cut[4]!, cut[5]!, eps);
      putRows(weight, o0, r.weight);
      putRows(bias, o0, r.bias);
      [r.weight, r.bias, ...cut].forEach((t) => t?.dispose());
    }
    return { weight, bias };
  }
  const mb = mean.bufferFor('batchNorm2d');
  // Weights per channel in vec4s when they come in fours (every invocation still covers the bias
  // while o <= o * k / 4 invocations, i.e. k >= 4).
  const v4 = rt.kernelOptions.normVec4 && k % 4 === 0;
  const kk = v4 ? k / 4 : k;
  const d = (v4 ? NORM4 : NORM).foldConv;
  const bufs = bindingsByName(d, {
    fc_cw: convWeight.bufferFor('batchNorm2d'),
    fc_rmean: mb,
    fc_rvar: variance.bufferFor('batchNorm2d'),
    fc_w: w ? w.bufferFor('batchNorm2d') : mb,
    fc_b: b ? b.bufferFor('batchNorm2d') : mb,
    fc_cb: convBias ? convBias.bufferFor('batchNorm2d') : mb,
    fc_wout: weight.bufferFor('batchNorm2d'),
    fc_bout: bias.bufferFor('batchNorm2d'),
  });
  const u = packUniformBlock(d, { o, k: kk, eps, pad0: 0 });
  const consts = { WG, HAS_W: w ? 1 : 0, HAS_B: b ? 1 : 0, HAS_CB: convBias ? 1 : 0 };
  weight.runtime.dispatch(normKernel(d), consts, bufs, new Uint8Array(u), wgGrid(o * kk));
  return { weight, bias };
}
