/**
 * PCGrad, "Gradient Surgery for Multi-Task Learning" (Yu et al., NeurIPS 2020), Algorithm 1. With
 * g_i the gradient of task i's loss on the shared parameters (all of them flattened into one
 * vector): for each task i, starting from g_i^PC = g_i, visit the other tasks j in a random order
 * and, where g_i^PC . g_j < 0, project g_i^PC onto the normal plane of g_j:
 *
 *     g_i^PC <- g_i^PC - (g_i^PC . g_j) / ||g_j||^2 g_j
 *
 * The shared parameters get sum_i g_i^PC; task-specific parameters get the plain sum of their task
 * gradients. The conflict test is a where() on the GPU, so nothing is read back; the visiting order
 * comes from a seeded host generator (its state is in state()). Mode 'representation' applies the
 * same surgery to the gradients with respect to the shared representation z and backpropagates the
 * result once through the encoder (cheaper, an approximation the paper does not evaluate).
 */
import { ArgumentError } from '../../errors.js';
import { backward } from '../../autograd/backward.js';
import { noGrad } from '../../autograd/tape.js';
import { add, div, lt, mul, sub, where } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { narrow, reshape, stack } from '../../ops/shape-ops.js';
import { square } from '../../ops/unary.js';
import { ones, scalar } from '../../tensor/creation.js';
import { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BalanceContext, Balancer, BalancerState } from './balancer.js';
import {
  accumulateFlat, addSpecific, checkKeys, checkTasks, flattenGrads, perTaskGradients, representationOf,
  sharedTrainable, stateScalars, taskLosses, taskSpecific,
} from './common.js';

/** Where the gradient-surgery methods read the task gradients. */
export type SurgeryMode = 'parameters' | 'representation';

/** Options of {@link PCGrad}. */
export interface PCGradOptions {
  /** 'parameters' (default, the paper) or 'representation' (see the file comment). */
  mode?: SurgeryMode;
  /** Seed of the generator that orders the projections (default 0). */
  seed?: number;
}

/**
 * The PCGrad combination of the rows of G [T, P]: sum_i g_i^PC with task i visiting the tasks of
 * `order[i]` (j != i) in turn. Returns [P]. Exported for tests and for reuse.
 */
export function pcgradCombine(G: Tensor, order: readonly (readonly number[])[]): Tensor {
  return noGrad(() => {
    const [T, P] = G.shape as [number, number];
    const rows = Array.from({ length: T }, (_, j) => reshape(narrow(G, 0, j, 1), [P]));
    const sq = sum(square(G), 1); // ||g_j||^2
    const zero = scalar(0);
    let total: Tensor | null = null;
    for (let i = 0; i < T; i++) {
      let gi = rows[i]!;
      for (const j of order[i]!) {
        const dot = sum(mul(gi, rows[j]!));
        // Only where g_i . g_j < 0 (then ||g_j|| > 0, so the division is safe where it is used).
        const coef = where(lt(dot, 0), div(dot, narrow(sq, 0, j, 1)), zero);
        gi = sub(gi, mul(rows[j]!, coef));
      }
      total = total ? add(total, gi) : gi;
    }
    return total!;
  });
}

/** PCGrad; see the file comment. */
export class PCGrad implements Balancer {
  readonly name = 'pcgrad';
  readonly tasks: readonly string[];
  readonly mode: SurgeryMode;
  private readonly rng: Generator;

  constructor(tasks: readonly string[], options: PCGradOptions = {}) {
    const op = 'PCGrad';
    this.tasks = checkTasks(op, tasks);
    checkKeys(op, options, ['mode', 'seed']);
    this.mode = options.mode ?? 'parameters';
    if (this.mode !== 'parameters' && this.mode !== 'representation') {
      throw new ArgumentError(op, `mode must be 'parameters' or 'representation' (got ${String(this.mode)})`);
    }
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new ArgumentError(op, `seed must be an integer (got ${String(seed)})`);
    this.rng = new Generator(seed);
  }

  /** For each task, the other tasks in a fresh random order (Fisher-Yates on the host generator). */
  nextOrder(): number[][] {
    const T = this.tasks.length;
    return Array.from({ length: T }, (_, i) => {
      const js = Array.from({ length: T }, (_, j) => j).filter((j) => j !== i);
      for (let k = js.length - 1; k > 0; k--) {
        const r = Math.floor(this.rng.next() * (k + 1));
        [js[k], js[r]] = [js[r]!, js[k]!];
      }
      return js;
    });
  }

  /** Per-task gradients, the surgery, and the combined gradients accumulated into `.grad`. */
  backward(ctx: BalanceContext): void {
    tidy(() => {
      const losses = taskLosses(this.name, ctx, this.tasks);
      const specific = taskSpecific(ctx);
      const order = this.nextOrder();
      if (this.mode === 'parameters') {
        const shared = sharedTrainable(this.name, ctx);
        const per = perTaskGradients(losses, [...shared, ...specific]);
        const G = stack(per.map((g) => flattenGrads(g.slice(0, shared.length), shared)), 0);
        accumulateFlat(pcgradCombine(G, order), shared);
        addSpecific(per, shared.length, specific);
      } else {
        const z = representationOf(this.name, ctx);
        const per = perTaskGradients(losses, [z, ...specific]);
        const G = stack(per.map((g) => flattenGrads(g.slice(0, 1), [z])), 0);
        backward(z, reshape(pcgradCombine(G, order), z.shape));
        addSpecific(per, 1, specific);
      }
    });
  }

  /** Ones: PCGrad changes directions, not task weights. The caller owns the tensor. */
  weights(): Tensor {
    return ones([this.tasks.length]);
  }

  /** None. */
  parameters(): Tensor[] {
    return [];
  }

  /** The generator's state (so a resumed run visits tasks in the same orders). */
  state(): BalancerState {
    return { scalars: { rng: [this.rng.state] }, tensors: {} };
  }

  /** Restores the generator state of state(). */
  loadState(state: BalancerState): void {
    const [s] = stateScalars(`${this.name}.loadState`, state, 'rng', 1);
    if (!Number.isInteger(s)) throw new ArgumentError(`${this.name}.loadState`, `rng state must be an integer (got ${s})`);
    this.rng.state = s! >>> 0;
  }

  /** Nothing to free. */
  dispose(): void {}
}
