/**
 * One-line op checks: `await checkOp({ fn, ref, inputs })` compares the op's forward result with a
 * float64 reference (shape and values) and, unless `grad: false`, its gradients with central finite
 * differences. Inputs are random (seeded) unless given.
 */
import { expect } from 'vitest';
import { fromArray, gradcheck, Generator, noGrad, type GradcheckOptions, type Tensor } from '../../src/index.js';
import { ND, size } from '../reference/ndarray.js';

export type InputSpec = readonly number[] | { shape: readonly number[]; range?: [number, number]; values?: ArrayLike<number> };

export interface OpCase {
  fn: (...xs: Tensor[]) => Tensor;
  ref: (...xs: ND[]) => ND;
  inputs: readonly InputSpec[];
  /** Check gradients against finite differences (default true). */
  grad?: boolean;
  /** Forward tolerance: |got - want| <= atol + rtol |want| (defaults 1e-5, 1e-4). */
  atol?: number;
  rtol?: number;
  gradOpts?: GradcheckOptions;
  seed?: number;
}

/** Host values for the inputs of a case. */
export function makeInputs(specs: readonly InputSpec[], seed = 1): ND[] {
  const g = new Generator(seed);
  return specs.map((s) => {
    const spec = Array.isArray(s) ? { shape: s as readonly number[] } : (s as Exclude<InputSpec, readonly number[]>);
    const [lo, hi] = spec.range ?? [-2, 2];
    const data = spec.values ? Float64Array.from(spec.values) : Float64Array.from(g.uniform(size(spec.shape), lo, hi));
    return ND.from(data, spec.shape);
  });
}

/** Asserts got ~= want elementwise (NaN matches NaN, infinities must match exactly). */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-5, rtol = 1e-4, what = 'value'): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g !== w) throw new Error(`${what}[${i}]: got ${g}, want ${w}`);
      continue;
    }
    const err = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (err > worstErr || Number.isNaN(err)) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0) throw new Error(`${what}[${worst}]: got ${got[worst]}, want ${want[worst]} (beyond tolerance atol ${atol}, rtol ${rtol})`);
}

/** Checks forward against the reference and gradients against finite differences. */
export async function checkOp(c: OpCase): Promise<void> {
  const hosts = makeInputs(c.inputs, c.seed);
  const want = c.ref(...hosts);
  const ts = hosts.map((h) => fromArray(h.data, h.shape));
  const y = noGrad(() => c.fn(...ts));
  expect([...y.shape], 'output shape').toEqual(want.shape);
  expectClose(await y.data(), want.data, c.atol ?? 1e-5, c.rtol ?? 1e-4, 'forward');
  y.dispose();
  ts.forEach((t) => t.dispose());
  if (c.grad === false) return;
  const bad = await gradcheck(c.fn, hosts.map((h) => ({ data: h.data, shape: h.shape })), c.gradOpts);
  expect(bad, 'gradient mismatches (analytic vs finite differences)').toEqual([]);
}
