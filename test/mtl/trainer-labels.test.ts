/**
 * The trainer checks the first batch's integer labels against every task's class count, 1-D class
 * labels included: a label of 12 for 10 classes is a LabelError naming the task and the sample, not
 * a NaN loss at step 0.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { FixedWeights } from '../../src/mtl/balance/fixed.js';
import { devices } from '../helpers/devices.js';

/** Two linear classifiers over a shared linear layer. */
class TwoHeads extends w.MultiTaskModel {
  readonly taskNames = ['digit', 'parity'] as const;
  readonly enc = this.child('enc', new w.Linear(4, 8, { generator: new w.Generator(1) }));
  readonly digit = this.child('digit', new w.Linear(8, 10, { generator: new w.Generator(2) }));
  readonly parity = this.child('parity', new w.Linear(8, 2, { generator: new w.Generator(3) }));
  forward(x: w.Tensor): w.MultiTaskOutput {
    return w.tidy(() => {
      const z = w.relu(this.enc.forward(x));
      return { outputs: { digit: this.digit.forward(z), parity: this.parity.forward(z) }, representation: z };
    });
  }
  sharedParameters(): w.Tensor[] {
    return this.enc.parameters();
  }
  lastSharedLayer(): w.Tensor {
    return this.enc.weight;
  }
}

describe.each(devices())('first-batch label check on %s', () => {
  it('refuses an out-of-range 1-D class label, naming the task and the sample', async () => {
    const model = new TwoHeads();
    const tasks = [w.classificationTask({ name: 'digit', numClasses: 10 }), w.classificationTask({ name: 'parity', numClasses: 2 })];
    const balancer = new FixedWeights(model.taskNames, { digit: 1, parity: 1 });
    const optimizer = new w.SGD(model.parameters(), { lr: 0.1 });
    const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: 1 });
    const before = await model.enc.weight.data();
    const batch: w.MultiTaskBatch = {
      input: w.randn([3, 4], { seed: 4 }),
      targets: { digit: { target: w.fromArray(new Int32Array([3, 12, 0]), [3]) }, parity: { target: w.fromArray(new Int32Array([1, 0, 0]), [3]) } },
    };
    const err = await trainer.trainStep(batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(w.LabelError);
    expect(String((err as Error).message)).toMatch(/task 'digit'/);
    expect(String((err as Error).message)).toMatch(/12/);
    expect((err as w.LabelError).index).toEqual([1]);
    // Nothing was trained.
    expect(Array.from(await model.enc.weight.data())).toEqual(Array.from(before));
    // Valid labels train.
    const ok: w.MultiTaskBatch = {
      input: w.randn([3, 4], { seed: 4 }),
      targets: { digit: { target: w.fromArray(new Int32Array([3, 9, 0]), [3]) }, parity: { target: w.fromArray(new Int32Array([1, 0, 0]), [3]) } },
    };
    await trainer.trainStep(ok);
    await trainer.drainLogs();
    expect(Number.isFinite(trainer.history[0]!.losses.digit)).toBe(true);
    w.disposeBatch(batch);
    w.disposeBatch(ok);
    trainer.dispose();
    model.dispose();
    balancer.dispose();
  });
});
