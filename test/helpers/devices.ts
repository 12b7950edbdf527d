/**
 * The adapters tests run on. Dawn picks one Vulkan driver per process (VK_ICD_FILENAMES), so a
 * process has one adapter: lavapipe by default, SwiftShader when the variable points at it. Tests
 * use `describe.each(devices())` so a run with another driver covers everything again; any test
 * skipped on an adapter is listed in SKIPS, never skipped silently.
 */
import { runtime, type Runtime } from '../../src/index.js';

export interface TestDevice {
  name: string;
  runtime: Runtime;
  toString(): string;
}

/**
 * Tests skipped per adapter, with the reason: on adapters whose name matches `adapter`, or, for
 * entries with `feature`, on adapters that lack that WebGPU feature.
 */
export const SKIPS: readonly { adapter: RegExp; feature?: string; test: RegExp; why: string }[] = [
  { adapter: /.*/, feature: 'shader-f16', test: /^f16 path/, why: 'the f16 kernels need the shader-f16 feature (lavapipe and SwiftShader have it)' },
];

/** The adapters at hand (one per process, see above). */
export function devices(): TestDevice[] {
  const rt = runtime();
  return [{ name: rt.adapterName, runtime: rt, toString: () => rt.adapterName }];
}

/** True when `testName` is listed in SKIPS for the current adapter. */
export function skipped(testName: string): boolean {
  const name = runtime().adapterName;
  const features = runtime().features;
  return SKIPS.some((s) => s.adapter.test(name) && (!s.feature || !features.has(s.feature)) && s.test.test(testName));
}
