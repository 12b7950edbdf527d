/**
 * The paper's toy network: a shared trunk 250-100-100-100-100 with ReLU after every layer and one
 * affine head 100 -> 100 per task. GradNorm's W is the trunk's last layer.
 */
import { Linear, MultiTaskModel, relu, tidy, type MultiTaskOutput, type Tensor, Generator } from '../../src/index.js';
import { ModuleList } from '../../src/nn/heads/common.js';
import { IN, OUT } from './data.js';

export class ToyModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly trunk: ModuleList<Linear>;
  readonly heads: ModuleList<Linear>;

  constructor(T: number, seed: number) {
    super();
    const generator = new Generator(seed);
    this.taskNames = Array.from({ length: T }, (_, i) => `task${i}`);
    const sizes = [IN, 100, 100, 100, 100];
    this.trunk = this.child('trunk', new ModuleList(sizes.slice(1).map((o, i) => new Linear(sizes[i]!, o, { generator }))));
    this.heads = this.child('heads', new ModuleList(this.taskNames.map(() => new Linear(100, OUT, { generator }))));
  }

  forward(x: Tensor): MultiTaskOutput {
    return tidy(() => {
      let h = x;
      for (const l of this.trunk.items) h = relu(l.forward(h));
      const outputs = Object.fromEntries(this.taskNames.map((n, i) => [n, this.heads.items[i]!.forward(h)]));
      return { outputs, representation: h };
    });
  }

  sharedParameters(): Tensor[] {
    return this.trunk.parameters();
  }

  lastSharedLayer(): Tensor {
    return this.trunk.items[this.trunk.items.length - 1]!.weight;
  }
}
