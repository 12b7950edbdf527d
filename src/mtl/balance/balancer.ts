/**
 * The loss-balancing contract. Every balancer is a small class (one file each) behind this one
 * interface and receives everything it uses through an explicit {@link BalanceContext}: the
 * per-task losses of this step, the shared parameters, the layer GradNorm differentiates, the shared
 * representation, the step and epoch. A balancer owns the backward pass of the step, because the
 * gradient-surgery methods (PCGrad, MGDA-UB, CAGrad) must combine per-task gradients before they
 * reach the parameters: after `backward(ctx)` every trainable parameter of the model (and of the
 * balancer, if it learns anything through the model's optimiser) holds its `.grad` for the step.
 */
import type { Tensor } from '../../tensor/tensor.js';

/** What a balancer sees of one training step. */
export interface BalanceContext {
  /** Task names in the model's order; `losses` has one entry per name. */
  readonly tasks: readonly string[];
  /** Unweighted scalar loss of each task for this step, with their graphs attached. */
  readonly losses: Readonly<Record<string, Tensor>>;
  /** Parameters shared by all tasks (the encoder); the gradient-surgery methods operate on these. */
  readonly sharedParameters: readonly Tensor[];
  /** Every trainable parameter of the model (shared and task-specific). */
  readonly parameters: readonly Tensor[];
  /**
   * GradNorm's W: the weight of the last shared layer, or null when the model has none to offer
   * (then GradNorm refuses the model).
   */
  readonly lastSharedLayer: Tensor | null;
  /**
   * The shared representation z (the encoder's output that every head reads), with its graph, or
   * null when the model has no single one. MGDA-UB and the 'representation' mode of PCGrad/CAGrad
   * differentiate the losses with respect to it.
   */
  readonly representation: Tensor | null;
  /** Optimisation step, from 0. */
  readonly step: number;
  /** Epoch, from 0. */
  readonly epoch: number;
}

/** Per-task weights as a balancer reports them (observable every step). */
export type TaskWeights = Readonly<Record<string, number>>;

/** A serialisable snapshot of a balancer's state (for checkpoints). */
export interface BalancerState {
  /** Host-side numbers (initial losses, epoch means, counters). */
  readonly scalars: Record<string, number[]>;
  /** GPU tensors (learned weights, optimiser moments), keyed by name. */
  readonly tensors: Record<string, Tensor>;
}

/** A loss-balancing method. */
export interface Balancer {
  /** Short name for reports, e.g. 'gradnorm'. */
  readonly name: string;
  /**
   * Runs the backward pass of the step: leaves each trainable parameter's gradient (accumulated
   * into `.grad`) for the combined objective and updates any state of the balancer's own (GradNorm's
   * weights take their own optimiser step here). Consumes the graphs of `ctx.losses`.
   */
  backward(ctx: BalanceContext): void;
  /**
   * The task weights used in the last step, as a [T] tensor in `ctx.tasks` order (stays on the GPU;
   * the trainer reads it back when it logs). Methods without explicit weights report the effective
   * ones (e.g. MGDA's alphas); PCGrad reports ones. Callers call it inside a tidy() scope and do
   * not keep the result beyond it (it may be a live tensor of the balancer or a new one).
   */
  weights(): Tensor;
  /** Parameters the model's optimiser must train alongside the model (uncertainty's log variances). */
  parameters(): Tensor[];
  /** Called with each task's mean training loss at the end of every epoch (DWA uses it). */
  endEpoch?(meanLosses: TaskWeights): void;
  /**
   * State for a checkpoint: `tensors` are the balancer's live tensors (not copies; the caller
   * reads them and never disposes them).
   */
  state(): BalancerState;
  /** Restores a state: copies the values of `state.tensors` in (the caller keeps ownership of them). */
  loadState(state: BalancerState): void;
  /** Frees the balancer's tensors. */
  dispose(): void;
}
