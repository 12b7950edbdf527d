// conv2d and convTranspose2d against PyTorch fixtures (scripts/fixtures/make_dense_fixtures.py):
// outputs and the gradients of sum(output * grad_output), relative error < 1e-4.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr, type FixtureCase, type FixtureParam } from '../helpers/fixtures.js';

type Pair = number | [number, number];
const pair = (p: FixtureParam): Pair => (Array.isArray(p) ? [p[0]!, p[1]!] : (p as number));

async function check(c: FixtureCase, run: (x: w.Tensor, wt: w.Tensor, b: w.Tensor | null) => w.Tensor): Promise<void> {
  const t = (name: string) => {
    const f = c.inputs[name];
    return f ? w.requireGrad(w.fromArray(f.data, f.shape)) : null;
  };
  const x = t('x')!;
  const wt = t('weight')!;
  const b = t('bias');
  const y = run(x, wt, b);
  expect([...y.shape]).toEqual(c.output.shape);
  expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
  const leaves = [x, wt, ...(b ? [b] : [])];
  const names = ['x', 'weight', 'bias'];
  const gs = w.grad(y, leaves, { gradOutputs: [w.fromArray(c.grad_output.data, c.grad_output.shape)] });
  for (let i = 0; i < leaves.length; i++) {
    const want = c.grads[names[i]!]!;
    expect(relErr(await gs[i]!.data(), want.data), `grad ${names[i]}`).toBeLessThan(FIXTURE_TOLERANCE);
  }
}

describe.each(devices())('conv fixtures from PyTorch on %s', () => {
  it.each(loadFixtures('conv2d').map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = c.params;
    const padding = p.pad ? (p.pad as [number, number, number, number]) : (pair(p.padding!) as number | [number, number]);
    await check(c, (x, wt, b) => w.conv2d(x, wt, b, { stride: pair(p.stride!), padding, dilation: pair(p.dilation!), groups: p.groups as number }));
  });

  it.each(loadFixtures('conv_transpose2d').map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = c.params;
    await check(c, (x, wt, b) =>
      w.convTranspose2d(x, wt, b, {
        stride: pair(p.stride!),
        padding: pair(p.padding!),
        outputPadding: pair(p.output_padding!),
        dilation: pair(p.dilation!),
        groups: p.groups as number,
      }),
    );
  });
});
