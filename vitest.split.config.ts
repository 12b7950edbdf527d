import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The op suites again under a 64 KiB binding limit (WEBMTL_MAX_BINDING): every op whose tensors or
// temporaries exceed it takes its split path and must match the same references as unsplit. Built
// from the main config by hand: mergeConfig would append the main `include` to this one.
export default defineConfig({
  test: {
    ...base.test,
    // PAP-Net's custom kernels fall back to their composed (splitting) versions past the limit.
    include: ['test/ops/**/*.test.ts', 'test/optim/**/*.test.ts', 'test/autograd/**/*.test.ts', 'test/nn/dropout.test.ts', 'test/mtl/models/pap-kernels.test.ts'],
    env: { WEBMTL_TUNING: 'off', WEBMTL_MAX_BINDING: '65536' },
  },
});
