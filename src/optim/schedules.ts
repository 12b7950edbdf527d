/**
 * Learning-rate schedules. A schedule is a pure function `(step, baseLr) => lr`; an
 * {@link LRScheduler} applies one to an optimiser's groups and keeps the step count, which is its
 * whole state (saved in checkpoints). Each schedule matches the closed form of the PyTorch scheduler
 * named in its comment; `linearWarmup` multiplies any schedule by a linear ramp, which is what
 * torch's ChainedScheduler([LinearLR, other]) computes for the multiplicative schedules.
 */
import { ArgumentError } from '../errors.js';
import { checkNumber, type BaseOptions, type Optimizer } from './optimizer.js';

/** The learning rate at `step` (0 before the first scheduler step) for a group whose base lr is `baseLr`. */
export type Schedule = (step: number, baseLr: number) => number;

function checkInt(op: string, name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(op, `${name} must be an integer >= ${min} (got ${String(v)})`);
}

function checkPositive(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ArgumentError(op, `${name} must be a finite number > 0 (got ${String(v)})`);
}

/** The base learning rate at every step. */
export function constantLR(): Schedule {
  return (_step, baseLr) => baseLr;
}

/** torch StepLR: lr = baseLr * gamma^floor(step / stepSize). */
export function stepLR(opts: { stepSize: number; gamma?: number }): Schedule {
  const { stepSize, gamma = 0.1 } = opts;
  checkInt('stepLR', 'stepSize', stepSize, 1);
  checkPositive('stepLR', 'gamma', gamma);
  return (step, baseLr) => baseLr * gamma ** Math.floor(step / stepSize);
}

/** torch MultiStepLR: lr = baseLr * gamma^(number of milestones <= step); milestones increasing. */
export function multiStepLR(opts: { milestones: readonly number[]; gamma?: number }): Schedule {
  const { milestones, gamma = 0.1 } = opts;
  if (!Array.isArray(milestones)) throw new ArgumentError('multiStepLR', 'milestones must be an array of integers');
  milestones.forEach((m, i) => {
    checkInt('multiStepLR', `milestones[${i}]`, m, 0);
    if (i > 0 && m <= milestones[i - 1]!) throw new ArgumentError('multiStepLR', `milestones must increase (got ${milestones.join(', ')})`);
  });
  checkPositive('multiStepLR', 'gamma', gamma);
  const ms = [...milestones];
  return (step, baseLr) => baseLr * gamma ** ms.filter((m) => m <= step).length;
}

/**
 * Polynomial decay as in the MTL survey code and torch PolynomialLR:
 * lr = baseLr * (1 - min(step, maxSteps) / maxSteps)^power (0 from maxSteps on).
 */
export function polyLR(opts: { maxSteps: number; power?: number }): Schedule {
  const { maxSteps, power = 0.9 } = opts;
  checkInt('polyLR', 'maxSteps', maxSteps, 1);
  checkNumber('polyLR', 'power', power);
  return (step, baseLr) => baseLr * (1 - Math.min(step, maxSteps) / maxSteps) ** power;
}

/**
 * torch CosineAnnealingLR (closed form): lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * step / T)) / 2,
 * which keeps oscillating with period 2T after step T, as torch's does.
 */
export function cosineLR(opts: { T: number; etaMin?: number }): Schedule {
  const { T, etaMin = 0 } = opts;
  checkInt('cosineLR', 'T', T, 1);
  checkNumber('cosineLR', 'etaMin', etaMin);
  return (step, baseLr) => etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * step) / T))) / 2;
}

/**
 * Linear warm-up around any schedule: the inner lr times startFactor + (1 - startFactor) *
 * min(step, warmupSteps) / warmupSteps (torch LinearLR with end factor 1, chained multiplicatively).
 * startFactor in (0, 1] as in torch; warmupSteps 0 means no warm-up.
 */
export function linearWarmup(inner: Schedule, opts: { warmupSteps: number; startFactor?: number }): Schedule {
  const { warmupSteps, startFactor = 1 / 3 } = opts;
  if (typeof inner !== 'function') throw new ArgumentError('linearWarmup', 'needs a schedule to wrap');
  checkInt('linearWarmup', 'warmupSteps', warmupSteps, 0);
  if (typeof startFactor !== 'number' || !(startFactor > 0 && startFactor <= 1)) {
    throw new ArgumentError('linearWarmup', `startFactor must be in (0, 1] (got ${String(startFactor)})`);
  }
  return (step, baseLr) => {
    const f = warmupSteps === 0 ? 1 : startFactor + ((1 - startFactor) * Math.min(step, warmupSteps)) / warmupSteps;
    return inner(step, baseLr) * f;
  };
}

/** An LRScheduler's state: its step count and the base learning rates it scales. */
export interface LRSchedulerState {
  step: number;
  baseLrs: number[];
}

/**
 * Sets an optimiser's learning rates from a schedule. Construction records each group's current lr
 * as its base lr and applies step 0; call `step()` after each `optimizer.step()` (as in PyTorch).
 * Groups added to the optimiser later take their lr at that time as base.
 */
export class LRScheduler {
  private count = 0;
  private bases: number[];

  constructor(
    readonly optimizer: Optimizer<BaseOptions>,
    readonly schedule: Schedule,
  ) {
    if (typeof schedule !== 'function') throw new ArgumentError('LRScheduler', 'needs a schedule function');
    this.bases = optimizer.paramGroups.map((g) => g.lr);
    this.apply(0);
  }

  /** Scheduler steps taken so far (the `step` the schedule was last evaluated at). */
  get stepCount(): number {
    return this.count;
  }

  /** The base learning rates, one per group. */
  get baseLrs(): readonly number[] {
    return this.bases;
  }

  /** Advances one step and sets every group's lr to the schedule's value. */
  step(): void {
    this.apply(this.count + 1);
  }

  /** The learning rates the scheduler set last, one per group. */
  lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Sets every group's lr for `step` and makes it the current step (nothing changes on an error). */
  private apply(step: number): void {
    const groups = this.optimizer.paramGroups;
    for (let i = this.bases.length; i < groups.length; i++) this.bases.push(groups[i]!.lr);
    const lrs = groups.map((_, i) => this.schedule(step, this.bases[i]!));
    lrs.forEach((lr) => checkNumber('LRScheduler', `lr at step ${step}`, lr));
    lrs.forEach((lr, i) => (groups[i]!.lr = lr));
    this.count = step;
  }

  /** The state to save in a checkpoint (JSON-able). */
  stateDict(): LRSchedulerState {
    return { step: this.count, baseLrs: [...this.bases] };
  }

  /** Restores a saved state and sets the learning rates for its step. */
  loadStateDict(state: LRSchedulerState): void {
    checkInt('LRScheduler.loadStateDict', 'step', state?.step, 0);
    const groups = this.optimizer.paramGroups.length;
    if (!Array.isArray(state.baseLrs) || state.baseLrs.length !== groups) {
      throw new ArgumentError('LRScheduler.loadStateDict', `baseLrs must have one entry per group (${groups})`);
    }
    state.baseLrs.forEach((b, i) => checkNumber('LRScheduler.loadStateDict', `baseLrs[${i}]`, b));
    const prev = this.bases;
    this.bases = [...state.baseLrs];
    try {
      this.apply(state.step);
    } catch (e) {
      this.bases = prev;
      throw e;
    }
  }
}
