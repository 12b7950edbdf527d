/**
 * What the autograd graph behind a result holds in GPU memory until backward: every tensor its
 * nodes keep (inputs and saved tensors), grouped by the op that produced it. This is the activation
 * memory of a training step, the part that grows with batch and resolution, and what
 * recomputation (checkpoint.ts) and the backward rules' choice of saved tensors cut.
 */
import type { Tensor } from '../tensor/tensor.js';

/** One group of {@link GraphMemory}. */
export interface GraphMemoryGroup {
  /** The producing op's name; `parameter` for trainable leaves, `input` for other leaves. */
  op: string;
  /** Distinct buffers in the group. */
  tensors: number;
  bytes: number;
}

/** The memory held by a graph, in total and by producing op (largest first). */
export interface GraphMemory {
  /** Bytes of every distinct buffer the graph reaches (views of one buffer count once). */
  totalBytes: number;
  /** The part held by activations: everything but the trainable leaves. */
  activationBytes: number;
  byOp: GraphMemoryGroup[];
}

/**
 * Walks the graphs behind `roots` (the roots included) and sums the bytes of every distinct GPU
 * buffer they reach, grouped by the op that produced each tensor. Reads nothing back and changes
 * nothing; disposed tensors are skipped.
 */
export function graphMemory(roots: Tensor | readonly Tensor[]): GraphMemory {
  const stack = Array.isArray(roots) ? [...(roots as readonly Tensor[])] : [roots as Tensor];
  const seenTensors = new Set<Tensor>();
  const seenNodes = new Set<object>();
  // Each buffer is labelled by the op that produced it; a view handle (no node of its own) on the
  // same buffer does not relabel it.
  const label = new Map<GPUBuffer, string>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seenTensors.has(t)) continue;
    seenTensors.add(t);
    if (!t.disposed) {
      const buf = t.bufferFor('graphMemory');
      const op = t.gradFn ? t.gradFn.op : t.requiresGrad ? 'parameter' : 'input';
      const had = label.get(buf);
      if (had === undefined || (had === 'input' && op !== 'input')) label.set(buf, op);
    }
    const node = t.gradFn;
    if (node && node.backward && !seenNodes.has(node)) {
      seenNodes.add(node);
      stack.push(...node.inputs, ...node.saved);
    }
  }
  const groups = new Map<string, GraphMemoryGroup>();
  let total = 0;
  let params = 0;
  for (const [buf, op] of label) {
    const g = groups.get(op) ?? { op, tensors: 0, bytes: 0 };
    g.tensors++;
    g.bytes += buf.size;
    groups.set(op, g);
    total += buf.size;
    if (op === 'parameter') params += buf.size;
  }
  return { totalBytes: total, activationBytes: total - params, byOp: [...groups.values()].sort((a, b) => b.bytes - a.bytes) };
}
