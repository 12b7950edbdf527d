/**
 * The Python behind the cross-checks: Debian's /usr/bin/python3 with numpy, scipy, scikit-image,
 * PyTorch and torchvision, installed by `npm test`'s set-up (scripts/ensure-test-tools.sh). A check
 * that needs a missing module fails with the command that installs it; it never skips.
 */
import { spawnSync } from 'node:child_process';

/** The interpreter every cross-check runs (not whatever `python3` is first on PATH). */
export const PYTHON = '/usr/bin/python3';

const FIX = 'run `bash scripts/ensure-test-tools.sh` (npm test does, as root on Debian/Ubuntu)';
const checked = new Map<string, string | null>();

/** Why `import <modules>` fails in PYTHON, or null when it works (cached per module list). */
export function pythonMissing(modules: string): string | null {
  if (!checked.has(modules)) {
    const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
    checked.set(
      modules,
      r.error
        ? `no ${PYTHON} (${r.error.message})`
        : r.status === 0
          ? null
          : `${PYTHON} cannot import ${modules} (${(r.stderr || '').trim().split('\n').pop()})`,
    );
  }
  return checked.get(modules)!;
}

/**
 * Throws, naming the fix, unless PYTHON imports every module in `modules` (comma-separated). Call it
 * first in a test (or a beforeAll) that cross-checks against Python, so a missing tool fails the test.
 */
export function requirePython(modules: string): string {
  const why = pythonMissing(modules);
  if (why) throw new Error(`${why}: this cross-check needs it; ${FIX}`);
  return PYTHON;
}
