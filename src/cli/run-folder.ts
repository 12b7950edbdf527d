/**
 * The run folder as a place on disk that `webmtl train` owns: creating it (without Node's recursive
 * mkdir, which spins forever on some pseudo file systems such as /proc), one trainer at a time
 * (a lock file holding the owner's pid; a lock left by a killed process is taken over), removing
 * what a killed checkpoint write left behind, and turning file-system failures (no space, read-only,
 * a file where a folder should be) into one line that names the path and says what to do.
 */
import { hostname } from 'node:os';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { WebmtlError } from '../errors.js';

/** A run folder or one of its files cannot be used; the message names the path and the remedy. */
export class RunFolderError extends WebmtlError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/** The lock file inside a run folder. */
export const LOCK_FILE = 'train.lock';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device; free some space',
  EDQUOT: 'disk quota exceeded; free some space',
  EROFS: 'the file system is read-only; choose a writable place',
  ENOTDIR: 'a part of this path is a file, not a folder; choose another path',
  EISDIR: 'this is a folder where a file was expected',
  EACCES: 'permission denied; choose a place you can write to',
  EPERM: 'the operation is not permitted here; choose a place you can write to',
  ENOENT: 'no such file or folder (or the file system does not allow creating it here)',
  EEXIST: 'already exists and is not a folder',
  EIO: 'input/output error from the device',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
};

/** Whether `e` is one of Node's file-system errors (it has an errno `code`). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
}

/**
 * Turns a file-system error met while `doing` something to `path` into a RunFolderError (one line:
 * the path, what failed, the errno code, what to do and `then`, e.g. how to continue); any other
 * error is returned unchanged.
 */
export function fsFailure(e: unknown, path: string, doing: string, then = ''): unknown {
  if (!isFsError(e)) return e;
  const code = e.code!;
  const why = REASONS[code] ?? e.message.split('\n')[0]!;
  return new RunFolderError(path, `cannot ${doing}: ${why} (${code})${then ? `; ${then}` : ''}`);
}

/**
 * Creates the run folder `dir` and any missing parents one level at a time, refusing a path where
 * a part is a file; every failure is a RunFolderError naming the path.
 */
export async function makeRunDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    let st: Awaited<ReturnType<typeof stat>> | null = null;
    try {
      st = await stat(p);
    } catch (e) {
      if (!isFsError(e) || (e.code !== 'ENOENT' && e.code !== 'ENOTDIR')) throw fsFailure(e, p, 'use this folder');
      if (e.code === 'ENOTDIR') throw new RunFolderError(p, 'a part of this path is a file, not a folder; choose another path (ENOTDIR)');
    }
    if (st) {
      if (!st.isDirectory()) throw new RunFolderError(p, `is a file, not a folder; choose another path for the run folder${p === resolve(dir) ? '' : ` ${dir}`}`);
      break;
    }
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
    } catch (e) {
      if (isFsError(e) && e.code === 'EEXIST' && (await stat(p).catch(() => null))?.isDirectory()) continue;
      throw fsFailure(e, p, 'create the run folder');
    }
  }
}

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

/** Whether the process `pid` on this machine is alive (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return Number.isSafeInteger(o.pid) && typeof o.host === 'string' ? (o as LockOwner) : null;
  } catch {
    return null;
  }
}

/** A held run-folder lock. */
export interface RunLock {
  /** Releases the lock (only if this process still owns it). */
  release(): Promise<void>;
  /** The process whose stale lock was taken over ('unreadable' for a torn lock file), or null. */
  tookOver: string | null;
}

/**
 * Takes the run folder's lock for this process: refuses (RunFolderError) while another live
 * process holds it, takes over a lock whose process is gone (or that is unreadable, as a kill
 * while writing it leaves it).
 */
export async function lockRunDir(dir: string): Promise<RunLock> {
  let tookOver: string | null = null;
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const h = await open(path, 'wx');
      try {
        await h.writeFile(JSON.stringify(me));
      } finally {
        await h.close();
      }
      return {
        tookOver,
        release: async () => {
          const o = await readOwner(path);
          if (o?.pid === me.pid && o.host === me.host) await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if (!isFsError(e) || e.code !== 'EEXIST') throw fsFailure(e, path, 'create the lock file');
    }
    const owner = await readOwner(path);
    if (owner && (owner.host !== me.host || alive(owner.pid))) {
      const where = owner.host === me.host ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
      throw new RunFolderError(
        dir,
        `another webmtl train (${where}, since ${owner.started}) is using this run folder; wait for it to end or stop it ` +
          `(if no trainer runs there any more, delete ${path})`,
      );
    }
    tookOver = owner ? `process ${owner.pid}, which no longer runs` : 'an unreadable lock file';
    // The owner is gone: move its lock aside (only one of several takers succeeds) and retry.
    const aside = `${path}.${process.pid}.stale`;
    await rename(path, aside).then(() => rm(aside, { force: true }), () => undefined);
  }
  throw new RunFolderError(path, 'could not take the lock (it kept changing); is another trainer starting on this folder?');
}

/**
 * Removes the temporary files of checkpoint writes that a killed process left in `dir`
 * (`.<name>.<tag>.tmp`, see src/io/node-fs.ts); call it holding the lock. Returns their names.
 */
export async function removeTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const temps = names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'));
  for (const n of temps) await rm(join(dir, n), { force: true });
  return temps;
}
