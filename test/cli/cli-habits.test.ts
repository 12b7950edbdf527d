/**
 * Small command-line habits: a command given no configuration lists the presets instead of
 * starting the demo, and --version prints package.json's version.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { program, packageVersion, resolveConfig } from '../../src/cli/main.js';
import { PRESETS } from '../../src/cli/presets.js';

describe('webmtl command habits', () => {
  it('refuses to guess a configuration and lists every preset with a summary', () => {
    let msg = '';
    try {
      resolveConfig({});
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^no configuration given: name one with --preset <name> or --config <file\.json>/);
    for (const name of Object.keys(PRESETS)) expect(msg).toMatch(new RegExp(`\\n  ${name} +\\S`));
    expect(() => resolveConfig({ set: ['train.epochs=1'] })).toThrow(/no configuration given/);
  });

  // Through the commander program, not main(): main() shuts the shared test device down at the end.
  it('bare `train`, `compare` and `tune` stop with that message before any GPU work', async () => {
    for (const cmd of ['train', 'compare', 'tune']) {
      await expect(program().parseAsync([cmd], { from: 'user' })).rejects.toThrow(/^no configuration given.*\nPresets:\n  demo /s);
    }
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(packageVersion()).toBe(pkg.version);
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stdout.write;
    try {
      await expect(program().parseAsync(['--version'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.version', exitCode: 0 });
    } finally {
      process.stdout.write = orig;
    }
    expect(writes.join('').trim()).toBe(pkg.version);
  });
});
