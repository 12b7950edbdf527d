/**
 * The budgets of `npm run results`: what the grid trains. `standard` is what docs/results.md reports:
 * sized from measured step times to about 100 minutes on one core of a 2-core machine with lavapipe
 * (`--jobs 1`); `full` is the demo-sized experiment (about 75 hours there, extrapolated); `tiny` is
 * the two-minute pipeline check, whose page says so at the top.
 */

/** One budget. */
export interface Budget {
  name: string;
  /** What it trains, in words (the page's header quotes it). */
  description: string;
  preset: string;
  /** --set overrides on the preset. */
  set: string[];
  seeds: number[];
  /** Architectures of section 1 (equal weights). */
  models: string[];
  /** Balancers of section 2 on the shared encoder. */
  balancers: string[];
  /**
   * Balancers of section 2 on the best architecture (default: {@link Budget.balancers}); a budget
   * trims this list when the expensive balancers on an expensive model would not fit.
   */
  bestBalancers?: string[];
  /** What the budget leaves out and why (the page says it under the balancer tables). */
  omitted?: string;
  /**
   * The deficit investigation's extra runs (section 6), trained after everything else: `capacity`
   * lists models trained with equal weights next to the architectures (a wider shared encoder with
   * about the single-task networks' parameters), `longerEpochs` retrains the single-task networks
   * and the shared encoder for that many epochs in a subfolder.
   */
  investigation?: { capacity: string[]; longerEpochs: number };
  /** GradNorm toy steps (both task counts). */
  toySteps: number;
  /** A warning the page prints first. */
  banner?: string;
}

/** The budgets by name. */
export const BUDGETS: Readonly<Record<string, Budget>> = {
  tiny: {
    name: 'tiny',
    description:
      '1 epoch of 8 synthetic 32x32 scenes (2 steps of batch 4), 4 validation scenes, eighth-width ResNet-18 at output stride 32, 2 seeds, 2 models and 4 balancers; the GradNorm toy for 20 steps',
    preset: 'smoke',
    set: ['train.epochs=1', 'train.reportSamples=0', 'data.trainSamples=8', 'data.valSamples=4'],
    seeds: [0, 1],
    models: ['shared-encoder', 'mti-net'],
    balancers: ['equal', 'uncertainty', 'gradnorm:alpha=1.5', 'mgda'],
    toySteps: 20,
    banner:
      'This is the tiny pipeline check (`npm run results -- --budget tiny`), not results: two training steps per run cannot tell the methods apart. Run `npm run results -- --budget full` for the page this is meant to be.',
  },
  standard: {
    name: 'standard',
    description:
      'the demo setup at 32x32: 3 epochs of 320 synthetic scenes (120 steps of batch 8, warm-up 20 steps), 64 validation scenes, quarter-width ResNet-18 at output stride 8, conv heads, Adam with warm-up and poly decay, 3 seeds; every architecture; every balancer on the shared encoder, plus fixed weights that divide each task\'s loss by its initial value (the loss-scale experiment of section 6); six balancers on the best architecture; the GradNorm toy for 200 steps',
    preset: 'demo',
    set: ['data.size=32', 'data.trainSamples=320', 'data.valSamples=64', 'train.epochs=3', 'schedule.warmupSteps=20', 'train.logEvery=5', 'train.reportSamples=0'],
    seeds: [0, 1, 2],
    models: ['shared-encoder', 'cross-stitch', 'nddr', 'mtan', 'pad-net', 'mti-net', 'pap-net', 'jtrl'],
    // The fixed row is sum_i w_i L_i with w_i proportional to 1 / L_i(0) (the shared encoder's
    // first-step losses at this size: semseg 1.70, depth 1.12, normals 0.69, edge 0.095), scaled to
    // sum to T: every task's loss starts at the same size, so it tells loss-scale imbalance apart.
    balancers: ['equal', 'fixed:weights=[0.18,0.27,0.43,3.12]', 'uncertainty', 'dwa', 'gradnorm:alpha=0.5', 'gradnorm:alpha=1.5', 'gradnorm:alpha=3', 'pcgrad', 'mgda', 'cagrad'],
    bestBalancers: ['equal', 'uncertainty', 'dwa', 'gradnorm:alpha=0.5', 'gradnorm:alpha=1.5', 'gradnorm:alpha=3'],
    omitted:
      'on the best architecture this budget runs the balancers that cost about one backward per step (uncertainty, DWA and GradNorm at alpha 0.5, 1.5 and 3) against equal weights; PCGrad, MGDA-UB and CAGrad (3 to 8 times an equal-weights step there, one backward per task) are measured on the shared encoder only, so that the grid fits about two hours of one shared core',
    // Width 0.5 has 3.3M parameters, about the four quarter-width single-task networks' 2.96M.
    investigation: { capacity: ['shared-encoder:width=0.5'], longerEpochs: 6 },
    toySteps: 200,
  },
  full: {
    name: 'full',
    description:
      "the demo setup: 8 epochs of 768 synthetic 64x64 scenes (768 steps of batch 8), 96 validation scenes, quarter-width ResNet-18 at output stride 8 (MTI-Net at its own 32), conv heads, Adam with warm-up and poly decay, 5 seeds; every architecture; every balancer on the shared encoder and on the best architecture; the GradNorm toy for 3000 steps",
    preset: 'demo',
    set: ['train.reportSamples=0'],
    seeds: [0, 1, 2, 3, 4],
    // MTI-Net at its own output stride (32): at the preset's 8 its four scales cost 7 s a step here.
    models: ['shared-encoder', 'cross-stitch', 'nddr', 'mtan', 'pad-net', 'mti-net:outputStride=32'],
    balancers: ['equal', 'uncertainty', 'dwa', 'gradnorm:alpha=0.5', 'gradnorm:alpha=1.5', 'gradnorm:alpha=3', 'pcgrad', 'mgda', 'cagrad'],
    toySteps: 3000,
  },
};
