// Every WGSL file compiles on the adapter at hand, with no error in its compilation info.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readShaderFile } from '../../src/gpu/shader-files.js';
import { devices } from '../helpers/devices.js';

const names = readdirSync(new URL('../../shaders/', import.meta.url))
  .filter((f) => f.endsWith('.wgsl'))
  .map((f) => f.slice(0, -5));

describe.each(devices())('shaders on %s', ({ runtime }) => {
  it('finds the shader files', () => {
    expect(names).toContain('matmul');
    expect(names).toContain('binary');
  });
  it.each(names)('%s.wgsl compiles without errors', async (name) => {
    const module = runtime.device.createShaderModule({ label: name, code: readShaderFile(name) });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    expect(errors).toEqual([]);
  });
});
