/**
 * PyTorch reference fixtures for the dense-prediction ops (test/fixtures/<family>.json), written by
 * scripts/fixtures/make_dense_fixtures.py (see scripts/fixtures/README.md for how to regenerate them
 * and the conventions: NCHW, OIHW, F.pad order, masked-mean definition). Tests read them with
 * `loadFixtures('conv2d')` and compare with `relErr(got, want) < FIXTURE_TOLERANCE`.
 */
import { readFileSync } from 'node:fs';

/** The fixture files that exist, one per op family. */
export const FIXTURE_FAMILIES = ['conv2d', 'conv_transpose2d', 'pool', 'interpolate', 'norm', 'losses'] as const;
export type FixtureFamily = (typeof FIXTURE_FAMILIES)[number];

/** The relative error the fixtures are checked to (see `relErr`). */
export const FIXTURE_TOLERANCE = 1e-4;

/**
 * One stored tensor: row-major data of `shape` (shape [] is a scalar with one value). Float data are
 * float32 values, each written as the shortest decimal that rounds back to it, so
 * `Float32Array.from(data)` recovers them exactly (as float64 they differ by < half a float32 ulp);
 * `dtype: 'int32'` marks integer tensors (cross_entropy labels, max_pool2d indices). A missing dtype
 * means float32.
 */
export interface FixtureTensor {
  shape: number[];
  data: number[];
  dtype?: 'float32' | 'int32';
}

/** A value in `params`: torch keyword arguments as JSON (tuples become arrays, None becomes null). */
export type FixtureParam = number | boolean | string | null | number[];

/**
 * One case. `params` holds the torch keyword arguments under torch's names (plus `pad` =
 * [left, right, top, bottom] for per-side conv padding and `definition` for the masked losses that
 * are not torch built-ins). `inputs` holds every input by name: `x` is the main operand (activation,
 * logits or prediction), then `weight`, `bias`, `target`, `mask`, `pos_weight`, `running_mean`,
 * `running_var` as the op needs; an absent optional input (e.g. no bias) is simply missing.
 * `grad_output` is a random upstream gradient of output's shape, and `grads` holds, for every
 * differentiable input, the gradient of sum(output * grad_output) with respect to it; inputs not
 * in `grads` (labels, masks, class weights, running statistics) are constants.
 */
export interface FixtureCase {
  name: string;
  op: string;
  params: Record<string, FixtureParam>;
  inputs: Record<string, FixtureTensor>;
  output: FixtureTensor;
  grad_output: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  /** max_pool2d: argmax per output element as the flat index h * W + w in its (n, c) input plane. */
  indices?: FixtureTensor;
  /** batch_norm: running statistics after the call (for training mode updated with momentum). */
  running_mean_after?: FixtureTensor;
  running_var_after?: FixtureTensor;
  /** batch_norm training mode: per-channel batch mean and biased batch variance (what normalises). */
  batch_mean?: FixtureTensor;
  batch_var_biased?: FixtureTensor;
}

interface FixtureFile {
  family: string;
  generator: string;
  torch_version: string;
  conventions: Record<string, string>;
  cases: FixtureCase[];
}

const cache = new Map<string, readonly FixtureCase[]>();

/**
 * Reads test/fixtures/<family>.json (once per process; later calls return the same array, which
 * callers must not mutate) and returns its cases in file order. Throws with the list of known
 * families when the file is missing.
 */
export function loadFixtures(family: string): FixtureCase[] {
  let cases = cache.get(family);
  if (!cases) {
    const url = new URL(`../fixtures/${family}.json`, import.meta.url);
    let text: string;
    try {
      text = readFileSync(url, 'utf8');
    } catch (e) {
      throw new Error(
        `no fixture file for family '${family}' (${url.pathname}); known: ${FIXTURE_FAMILIES.join(', ')}. ` +
          `Regenerate with /usr/bin/python3 scripts/fixtures/make_dense_fixtures.py (${String(e)})`,
      );
    }
    const file = JSON.parse(text) as FixtureFile;
    if (!Array.isArray(file.cases)) throw new Error(`${url.pathname}: no 'cases' array`);
    cases = file.cases;
    cache.set(family, cases);
  }
  return cases as FixtureCase[];
}

/** The case called `name` in `family`; throws when there is none. */
export function fixtureCase(family: string, name: string): FixtureCase {
  const c = loadFixtures(family).find((k) => k.name === name);
  if (!c) throw new Error(`fixture '${name}' not found in ${family}.json`);
  return c;
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Relative error of `got` against the fixture values `want`:
 *
 *     relErr = max_i |got_i - want_i| / max(max_i |want_i|, 1e-6)
 *
 * i.e. the worst absolute error scaled by the largest magnitude in the reference (floored at 1e-6 so
 * an all-zero reference, e.g. the gradient of a fully masked loss, demands |got| <= 1e-6 * tol).
 * One number per tensor, insensitive to the overall scale of the values, and not blown up by
 * entries near zero. NaN or an infinity in `got` gives Infinity. Throws when the lengths differ.
 * The fixtures are meant to be met with relErr < FIXTURE_TOLERANCE (1e-4).
 */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`relErr: got ${got.length} values, want ${want.length}`);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!Number.isFinite(g)) return Infinity;
    maxErr = Math.max(maxErr, Math.abs(g - w));
    maxRef = Math.max(maxRef, Math.abs(w));
  }
  return maxErr / Math.max(maxRef, 1e-6);
}
