// Injects file-system failures into the functions of node:fs/promises for the run-folder fault
// tests (or just observes calls): the module's exports are patched and re-synced, so both named
// imports and src/io/node-fs.ts's default-object calls see the fault. Each injection fires on the
// first `times` calls whose path matches, then passes calls through; `restore()` undoes it.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

type Patchable = 'appendFile' | 'writeFile' | 'open' | 'mkdir' | 'rename' | 'stat';

/** One injected failure; `fired` counts the calls that failed. */
export interface Fault {
  fired: number;
  restore(): void;
}

/** Makes `fs.promises[fn](path, ...)` reject with errno `code` for paths matching `match`. */
export function inject(fn: Patchable, match: RegExp, code: string, times = 1): Fault {
  const p = fs.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const orig = p[fn]!;
  const fault: Fault = {
    fired: 0,
    restore: () => {
      p[fn] = orig;
      syncBuiltinESMExports();
    },
  };
  p[fn] = async (...args: unknown[]) => {
    const path = String(args[0]);
    if (fault.fired < times && match.test(path)) {
      fault.fired++;
      throw Object.assign(new Error(`${code}: simulated failure, ${fn} '${path}'`), { code, syscall: fn, path });
    }
    return orig.apply(fs.promises, args);
  };
  syncBuiltinESMExports();
  return fault;
}

/** Calls `then()` before each `fs.promises[fn](path, ...)` whose path matches, then does the call. */
export function observe(fn: Patchable, match: RegExp, then: (path: string) => void): Fault {
  const p = fs.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const orig = p[fn]!;
  const fault: Fault = {
    fired: 0,
    restore: () => {
      p[fn] = orig;
      syncBuiltinESMExports();
    },
  };
  p[fn] = async (...args: unknown[]) => {
    if (match.test(String(args[0]))) {
      fault.fired++;
      then(String(args[0]));
    }
    return orig.apply(fs.promises, args);
  };
  syncBuiltinESMExports();
  return fault;
}
