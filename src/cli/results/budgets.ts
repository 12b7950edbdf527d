/**
 * The budgets of `npm run results`: what the grid trains. `full` is the experiment docs/results.md
 * is meant to report (about 75 hours on a 2-core machine with lavapipe, extrapolated from measured
 * step times; README, "Results"); `tiny` is the two-minute pipeline check, whose
 * page says so at the top.
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
  /** Balancers of section 2. */
  balancers: string[];
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
