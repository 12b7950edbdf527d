// Injects file-system failures into the functions of node:fs/promises (and FileHandle writes) for
// the run-folder fault tests: the module's exports are patched and re-synced, so both named imports
// and src/io/node-fs.ts's default-object calls see the fault. Each injection fires on the first
// `times` calls whose path matches, then passes calls through; `restore()` undoes it.
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
