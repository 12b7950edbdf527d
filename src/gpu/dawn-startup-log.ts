/**
 * Dawn's adapter discovery prints two warnings on every run with Mesa's lavapipe ("maxDynamic...
 * artificially reduced from 1000000 to 16"), straight to file descriptor 2 from native code. They
 * say nothing a user can act on, so the discovery call runs with fd 2 pointed at a temporary file,
 * and everything else Dawn printed there is passed on to stderr unchanged (a real driver error
 * stays visible). Discovery is synchronous inside the first `requestAdapter()` call, so no JavaScript
 * runs while fd 2 is swapped. Linux only (it reopens /proc/self/fd/2); elsewhere, with stderr on a
 * socket, or with WEBMTL_DAWN_WARNINGS=1, the call runs untouched, and so does a stderr
 * redirected to a regular file (see below).
 */

type Fs = typeof import('node:fs');

/** Lines Dawn prints on every start on some drivers, with nothing for the user to do. */
const NOISE = [/^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+/];

/** True for a line of Dawn's start-up output that is dropped. */
export function isDawnStartupNoise(line: string): boolean {
  return NOISE.some((re) => re.test(line));
}

/**
 * Runs `fn` (a call that makes Dawn discover adapters) with Dawn's start-up noise filtered out of
 * fd 2, as described above. `fs` is node:fs, passed in so browser bundles never import it. Any
 * failure of the swap itself leaves fd 2 as it was and runs `fn` unfiltered.
 */
export function withoutDawnStartupNoise<T>(fs: Fs, tmpFile: string, fn: () => T): T {
  if (process.platform !== 'linux' || process.env.WEBMTL_DAWN_WARNINGS === '1') return fn();
  let saved = -1;
  try {
    // Only pipes and terminals: reopening one through /proc reaches the same pipe or terminal. A
    // regular file is left alone, since a second open file description would write at its own offset
    // and overwrite what other writers sharing the original one (2>&1 > log) wrote. Fds 0 and 1 must
    // be open so that the next open() gets fd 2 back.
    const st = fs.fstatSync(2);
    if (!(st.isFIFO() || st.isCharacterDevice())) return fn();
    fs.fstatSync(0);
    fs.fstatSync(1);
    saved = fs.openSync('/proc/self/fd/2', 'a');
  } catch {
    if (saved >= 0) fs.closeSync(saved);
    return fn();
  }
  let captured = '';
  let ran = false;
  let result: T | undefined;
  try {
    fs.closeSync(2);
    const tmp = fs.openSync(tmpFile, 'w+', 0o600);
    if (tmp === 2) {
      ran = true;
      result = fn();
    } else {
      fs.closeSync(tmp);
    }
  } finally {
    try {
      captured = fs.readFileSync(tmpFile, 'utf8');
    } catch {
      captured = '';
    }
    try {
      fs.closeSync(2);
    } catch {
      // fd 2 was already closed (the open above failed): reopen it all the same.
    }
    fs.openSync(`/proc/self/fd/${saved}`, 'a');
    fs.closeSync(saved);
    try {
      fs.unlinkSync(tmpFile);
    } catch {
      // Nothing to remove.
    }
  }
  const kept = captured.split('\n').filter((l) => l !== '' && !isDawnStartupNoise(l));
  if (kept.length > 0) fs.writeSync(2, `${kept.join('\n')}\n`);
  return ran ? (result as T) : fn();
}
