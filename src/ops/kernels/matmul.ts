/**
 * Raw batched matmul (shaders/matmul.wgsl): C[b] = op(A[b]) op(B[b]) over 3-D views with batch
 * strides (0 broadcasts an operand), transposes handled in the kernel rather than by copies.
 */
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';

const kernel = { shader: 'matmul', bindings: ['read', 'read', 'write', 'uniform'] } as const;
const WGX = 8;
const WGY = 8;

/** Shape and layout of one batched product. */
export interface MatmulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Elements between consecutive batch entries of A and B (0 = broadcast). */
  strideA: number;
  strideB: number;
}

/** Runs the product into a new tensor of shape `outShape` (batch * m * n elements). */
export function matmulRaw(a: Tensor, b: Tensor, plan: MatmulPlan, outShape: readonly number[]): Tensor {
  const c = empty(outShape);
  const { batch, m, n, k } = plan;
  if (batch * m * n === 0) return c;
  if (k === 0) {
    c.runtime.dispatch({ shader: 'fill', bindings: ['write', 'uniform'] }, { WG: 64 }, [c.bufferFor('matmul')], new Uint32Array([Math.ceil(c.size / 4), 0]), [Math.ceil(c.size / 256), 1, 1]);
    return c;
  }
  const u = new Uint32Array([m, n, k, batch, plan.strideA, plan.strideB, m * n, 0]);
  const groups: [number, number, number] = [Math.ceil(n / 4 / WGX), Math.ceil(m / 4 / WGY), batch];
  c.runtime.dispatch(
    kernel,
    { TRANS_A: plan.transA ? 1 : 0, TRANS_B: plan.transB ? 1 : 0, WGX, WGY },
    [a.bufferFor('matmul'), b.bufferFor('matmul'), c.bufferFor('matmul')],
    u,
    groups,
  );
  return c;
}
