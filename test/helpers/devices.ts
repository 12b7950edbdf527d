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

/** Tests skipped per adapter-name pattern, with the reason. Empty today. */
export const SKIPS: readonly { adapter: RegExp; test: RegExp; why: string }[] = [];

/** The adapters at hand (one per process, see above). */
export function devices(): TestDevice[] {
  const rt = runtime();
  return [{ name: rt.adapterName, runtime: rt, toString: () => rt.adapterName }];
}

/** True when `testName` is listed in SKIPS for the current adapter. */
export function skipped(testName: string): boolean {
  const name = runtime().adapterName;
  return SKIPS.some((s) => s.adapter.test(name) && s.test.test(testName));
}
