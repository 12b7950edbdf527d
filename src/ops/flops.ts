/**
 * FLOP counting for model summaries: the compute-heavy ops (conv2d, convTranspose2d, matmul,
 * linear) report their multiply-adds x 2 here while they run; `countFlops(fn)` collects what `fn`
 * launched. Elementwise ops, norms, pools and interpolation are not counted (the usual convention of
 * FLOP tables such as fvcore / ptflops MACs x 2). With no counter active a report is one empty loop.
 */

/** The ops that report FLOPs. */
export type FlopOp = 'conv2d' | 'convTranspose2d' | 'matmul' | 'linear';

/** Called for every counted op while a counter is active. */
export type FlopListener = (op: FlopOp, flops: number) => void;

const listeners: FlopListener[] = [];

/**
 * Reports `flops` (2 x multiply-adds) for one launch of `op` to every active counter. Called by the
 * ops themselves; bias additions and fused epilogues are not counted.
 */
export function addFlops(op: FlopOp, flops: number): void {
  for (const l of listeners) l(op, flops);
}

/** What {@link countFlops} measured. */
export interface FlopCount<T> {
  /** fn's return value. */
  readonly result: T;
  /** FLOPs (2 x multiply-adds) of every counted op fn launched. */
  readonly total: number;
  /** The same total split by op. */
  readonly byOp: Readonly<Record<FlopOp, number>>;
}

/**
 * Runs the synchronous `fn` and counts the FLOPs of the conv/matmul ops it launches (nested counters
 * all see the same ops). `onCount`, when given, is called for each counted launch, e.g. to attribute
 * FLOPs to the module that is running.
 */
export function countFlops<T>(fn: () => T, onCount?: FlopListener): FlopCount<T> {
  const byOp: Record<FlopOp, number> = { conv2d: 0, convTranspose2d: 0, matmul: 0, linear: 0 };
  let total = 0;
  const listener: FlopListener = (op, flops) => {
    byOp[op] += flops;
    total += flops;
    onCount?.(op, flops);
  };
  listeners.push(listener);
  try {
    const result = fn();
    return { result, total, byOp };
  } finally {
    listeners.splice(listeners.lastIndexOf(listener), 1);
  }
}
