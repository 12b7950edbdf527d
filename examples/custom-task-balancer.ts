/**
 * The README's library example, kept compiling: a custom task (foreground/background
 * segmentation with a Dice-style loss) and a custom balancer (weights proportional to each task's
 * current loss ratio, a simple "focus on the laggard" rule), trained with the built-in tasks on the
 * synthetic scenes for a few steps.   npx tsx examples/custom-task-balancer.ts
 */
import * as w from '../src/index.js';

await w.init();

// A custom task: anything with a name, an output channel count, a loss, a shape check and metrics.
const foreground: w.Task = {
  name: 'sal', // the synthetic scenes' saliency map: 1 on objects
  channels: 1,
  weight: 1,
  loss: (pred, { target }) =>
    w.tidy(() => {
      const p = w.sigmoid(pred);
      const inter = w.sum(w.mul(p, target));
      const total = w.add(w.sum(p), w.sum(target));
      return w.add(w.mul(w.div(w.mul(inter, 2), w.add(total, 1)), -1), 1); // 1 - soft Dice
    }),
  check: (pred, { target }) => {
    if (pred.shape[1] !== 1 || pred.shape[2] !== target.shape[2]) throw new w.ShapeError("task 'sal'", [pred.shape, target.shape], 'expected [N,1,H,W]');
  },
  metrics: () => [new w.SaliencyMetric()],
  postprocess: (pred) => w.sigmoid(pred),
};

// A custom balancer: w_i = T * r_i / sum_j r_j with r_i = L_i / L_i(0), all on the GPU.
class LossRatioWeights implements w.Balancer {
  readonly name = 'loss-ratio';
  private initial: w.Tensor | null = null;
  private current: w.Tensor;
  constructor(readonly tasks: readonly string[]) {
    this.current = w.keep(w.ones([tasks.length]));
  }
  backward(ctx: w.BalanceContext): void {
    w.tidy(() => {
      const L = w.stack(ctx.tasks.map((t) => ctx.losses[t]!));
      const Ld = w.detach(L);
      this.initial ??= w.keep(w.clone(Ld));
      const r = w.div(Ld, this.initial);
      const weights = w.mul(w.div(r, w.sum(r)), ctx.tasks.length);
      this.current.dispose();
      this.current = w.keep(weights);
      w.backward(w.sum(w.mul(L, weights)));
    });
  }
  weights(): w.Tensor {
    return w.clone(this.current);
  }
  parameters(): w.Tensor[] {
    return [];
  }
  state(): w.BalancerState {
    return { scalars: {}, tensors: { weights: this.current } };
  }
  loadState(): void {}
  dispose(): void {
    this.current.dispose();
    this.initial?.dispose();
  }
}

const tasks = [w.segmentationTask({ numClasses: 6 }), w.depthTask({ offset: 3 }), foreground];
const model = w.createModel({ arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, outputStride: 8, head: 'conv', seed: 0 }, tasks);
const balancer = new LossRatioWeights(model.taskNames);
const trainer = new w.Trainer({ model, tasks, balancer, optimizer: new w.Adam(model.parameters(), { lr: 0.005 }), logEvery: 5 });
const data = new w.DataLoader(new w.SyntheticScenes({ size: 32, length: 40, seed: 1, tasks: ['semseg', 'depth', 'sal'] }), { batchSize: 8, shuffle: true });
for (let epoch = 0; epoch < 2; epoch++) {
  const log = await trainer.trainEpoch(data.epoch(epoch));
  console.log(`epoch ${epoch}: loss`, log.trainLoss, 'weights', log.weights);
}
balancer.dispose();
model.dispose();
w.shutdown();
