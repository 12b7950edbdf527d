// Every WGSL file compiles on the adapter at hand, with its includes resolved and no error in its
// compilation info. A file without an entry point is a shared part: it must be included somewhere.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readShaderFile } from '../../src/gpu/shader-files.js';
import { shaderSource } from '../../src/gpu/shader-source.js';
import { devices } from '../helpers/devices.js';

const names = readdirSync(new URL('../../shaders/', import.meta.url))
  .filter((f) => f.endsWith('.wgsl'))
  .map((f) => f.slice(0, -5));
const hasEntry = (name: string) => /@compute\b/.test(readShaderFile(name));
const kernels = names.filter(hasEntry);
const parts = names.filter((n) => !hasEntry(n));

describe('shader files', () => {
  it('finds the kernels', () => {
    expect(kernels).toContain('matmul');
    expect(kernels).toContain('binary');
  });
  it.each(parts.length ? parts : ['(none)'])('shared part %s.wgsl is included by a kernel', (part) => {
    if (part === '(none)') return;
    const includers = names.filter((n) => new RegExp(`//\\s*#include\\s+"${part}\\.wgsl"`).test(readShaderFile(n)));
    expect(includers.length, `${part}.wgsl has no entry point and no shader includes it`).toBeGreaterThan(0);
  });
});

describe.each(devices())('shaders on %s', ({ runtime }) => {
  it.each(kernels)('%s.wgsl compiles without errors', async (name) => {
    const module = runtime.device.createShaderModule({ label: name, code: shaderSource(name) });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    expect(errors).toEqual([]);
  });
});
