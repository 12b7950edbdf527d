/**
 * The filter around Dawn's adapter discovery: in a child process whose stderr is a pipe, the two
 * start-up warnings vanish, every other line written to fd 2 during the call survives, and stderr
 * works as before afterwards; with stderr on a regular file nothing is swapped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isDawnStartupNoise } from '../../src/gpu/dawn-startup-log.js';

const NOISE_U = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const NOISE_S = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const moduleUrl = new URL('../../src/gpu/dawn-startup-log.ts', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'webmtl-dawnlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A child that writes, from inside the filtered call, the two warnings and a real error directly to
// fd 2 (as native code does), returns a value, then writes to stderr again.
const child = join(dir, 'child.ts');
writeFileSync(
  child,
  `import * as fs from 'node:fs';
import { withoutDawnStartupNoise } from ${JSON.stringify(moduleUrl)};
process.stderr.write('before\\n');
const v = withoutDawnStartupNoise(fs, ${JSON.stringify(join(dir, 'dawn.log'))}, () => {
  fs.writeSync(2, ${JSON.stringify(`${NOISE_U}\n${NOISE_S}\n`)});
  fs.writeSync(2, 'Error: vkCreateInstance failed\\n');
  return 42;
});
process.stderr.write('after ' + v + '\\n');
process.stdout.write('out\\n');
`,
);
const cwd = fileURLToPath(new URL('../..', import.meta.url));
// Node gives a child's 'pipe' stdio a socket, which cannot be reopened (that case runs unfiltered);
// a shell pipeline gives it a real pipe, as a terminal session or `npm run` under CI does.
const runPiped = (env: Record<string, string> = {}) =>
  spawnSync('bash', ['-c', `"${process.execPath}" --import tsx "${child}" 2>&1 >/dev/null | cat`], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
const runToFile = (fd: number) =>
  spawnSync(process.execPath, ['--import', 'tsx', child], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', fd] });

describe('Dawn start-up warnings', () => {
  it('recognises exactly the two limit warnings', () => {
    expect(isDawnStartupNoise(NOISE_U)).toBe(true);
    expect(isDawnStartupNoise(NOISE_S)).toBe(true);
    expect(isDawnStartupNoise('Warning: something else')).toBe(false);
    expect(isDawnStartupNoise('Error: vkCreateInstance failed')).toBe(false);
  });

  it.runIf(process.platform === 'linux')('are dropped from a piped stderr; other lines and later output survive', () => {
    const r = runPiped();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('before\nError: vkCreateInstance failed\nafter 42\n');
  });

  it('are kept with WEBMTL_DAWN_WARNINGS=1', () => {
    const r = runPiped({ WEBMTL_DAWN_WARNINGS: '1' });
    expect(r.stdout).toBe(`before\n${NOISE_U}\n${NOISE_S}\nError: vkCreateInstance failed\nafter 42\n`);
  });

  it('leave a stderr redirected to a file untouched (no second file offset)', () => {
    const file = join(dir, 'stderr.txt');
    const fd = openSync(file, 'w');
    const r = runToFile(fd);
    closeSync(fd);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('out\n');
    expect(readFileSync(file, 'utf8')).toBe(`before\n${NOISE_U}\n${NOISE_S}\nError: vkCreateInstance failed\nafter 42\n`);
  });
});
