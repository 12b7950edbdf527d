import { defineConfig } from 'vitest/config';

// One worker, no isolation: every test file shares one WebGPU device (device creation and shader
// compiles are the slow part on a software adapter, and the machine has two cores).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    pool: 'forks',
    maxWorkers: 1,
    isolate: false,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernel choices in tests follow the shape rules, never a tuning table stored on this machine.
    env: { WEBMTL_TUNING: 'off' },
  },
});
