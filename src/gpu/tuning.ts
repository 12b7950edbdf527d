/**
 * The per-adapter table of tuned kernel variants. Ops that have several kernels for one job (matmul:
 * register-blocked `general` / `outer` or workgroup-tiled `tiled`; each convolution pass: `direct`
 * with split-K, or im2col products, 1x1 as a plain GEMM) ask the table first and fall back to their
 * rule by shape. `autotune()` (src/ops/autotune.ts, run by `webmtl tune`) fills the table by timing
 * every candidate on the shapes a workload used, and it is stored per adapter: in Node as JSON under
 * `$WEBMTL_CACHE_DIR` (default `~/.cache/webmtl`), in a browser in localStorage. A table is only reused
 * on the adapter it was measured on and with the kernels it was measured with (a fingerprint of their
 * WGSL sources), so a driver or kernel change never applies stale choices. Set `WEBMTL_TUNING=off` to
 * ignore stored tables (the test suite does, so its kernel choices never depend on the machine).
 */
import { shaderSource } from './shader-source.js';

/** Bumped when the stored format or the meaning of the keys changes. */
const FORMAT = 1;
/** Shaders whose variants the table chooses between; their text is part of the fingerprint. */
const TUNED_SHADERS = ['matmul', 'conv2d', 'conv-gemm'] as const;
/** Most misses remembered (shapes asked for without a tuned entry), so a long run stays bounded. */
const MAX_MISSES = 4096;

/** One tuned choice: the winner and the median time of every candidate, as measured. */
export interface TunedEntry {
  variant: string;
  /** Median milliseconds per candidate (the winner included). */
  ms: Record<string, number>;
}

/** A key asked for with no tuned entry: what the op could have used and what it used. */
export interface TuningMiss {
  allowed: readonly string[];
  fallback: string;
}

/** The stored form of a table (one JSON file or localStorage item per adapter). */
export interface StoredTuning {
  format: number;
  adapter: string;
  fingerprint: string;
  created: string;
  entries: Record<string, TunedEntry>;
}

/** Kernel choices measured on one adapter, keyed by op and shape (see the ops' `*TuneKey` functions). */
export class TuningTable {
  private readonly entries = new Map<string, TunedEntry>();
  /** Keys asked for without a tuned entry, in first-seen order (what `webmtl tune` measures). */
  readonly misses = new Map<string, TuningMiss>();
  /** Where the table was loaded from, if it was. */
  source: string | null = null;

  constructor(
    readonly adapter: string,
    readonly fingerprint: string = kernelFingerprint(),
    entries: Record<string, TunedEntry> = {},
  ) {
    for (const [k, e] of Object.entries(entries)) this.entries.set(k, e);
  }

  /** Number of tuned entries. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The tuned variant for `key` when one is stored and is among `allowed` (a stored name an op no
   * longer has is ignored); otherwise `fallback`, and the key is remembered as a miss.
   */
  choose<V extends string>(key: string, allowed: readonly V[], fallback: V): V {
    const e = this.entries.get(key);
    if (e && (allowed as readonly string[]).includes(e.variant)) return e.variant as V;
    if (allowed.length > 1 && !this.misses.has(key) && this.misses.size < MAX_MISSES) this.misses.set(key, { allowed, fallback });
    return fallback;
  }

  /** The stored entry for `key`, if any. */
  get(key: string): TunedEntry | undefined {
    return this.entries.get(key);
  }

  /** Records a measured choice (and forgets the key's miss). */
  set(key: string, entry: TunedEntry): void {
    this.entries.set(key, entry);
    this.misses.delete(key);
  }

  /** Drops every entry and miss. */
  clear(): void {
    this.entries.clear();
    this.misses.clear();
  }

  /** All entries, sorted by key. */
  list(): [string, TunedEntry][] {
    return [...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The stored form. */
  toJSON(): StoredTuning {
    return { format: FORMAT, adapter: this.adapter, fingerprint: this.fingerprint, created: new Date().toISOString(), entries: Object.fromEntries(this.list()) };
  }
}

/** FNV-1a over the tuned kernels' WGSL sources: a table measured with other kernels is not reused. */
export function kernelFingerprint(): string {
  let h = 0x811c9dc5;
  for (const name of TUNED_SHADERS) {
    const s = shaderSource(name);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A short, file-name-safe form of an adapter identity. */
function slug(adapter: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < adapter.length; i++) h = Math.imul(h ^ adapter.charCodeAt(i), 0x01000193) >>> 0;
  const name = adapter.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 48).toLowerCase();
  return `${name}-${h.toString(16).padStart(8, '0')}`;
}

type Env = Record<string, string | undefined>;
const env = (): Env => (typeof process !== 'undefined' && process.env ? process.env : {});
const isNode = (): boolean => typeof process !== 'undefined' && !!process.versions?.node;
// Imported by name at run time, so the browser bundle never pulls in a Node built-in.
const nodeImport = <T>(name: string): Promise<T> => import(/* @vite-ignore */ name) as Promise<T>;

/** True unless `WEBMTL_TUNING=off` (or `0`/`false`) asks to ignore stored tables. */
export function tuningEnabled(): boolean {
  const v = env().WEBMTL_TUNING?.toLowerCase();
  return !(v === 'off' || v === '0' || v === 'false');
}

/** Where the table of `adapter` is stored: a file path in Node, a localStorage key in a browser. */
export async function tuningLocation(adapter: string): Promise<string> {
  if (!isNode()) return `webmtl.tuning.${slug(adapter)}`;
  const path = await nodeImport<typeof import('node:path')>('node:path');
  const os = await nodeImport<typeof import('node:os')>('node:os');
  const dir = env().WEBMTL_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'webmtl');
  return path.join(dir, 'tuning', `${slug(adapter)}.json`);
}

/** Reads the stored text at `where`, or null when there is none. */
async function readStored(where: string): Promise<string | null> {
  if (!isNode()) return (globalThis as { localStorage?: Storage }).localStorage?.getItem(where) ?? null;
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  try {
    return await fs.readFile(where, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The stored table of `adapter` if there is one for these kernels; otherwise an empty table. A stored
 * table that is unreadable, of another format, adapter or kernel fingerprint is ignored (with a warning
 * for unreadable ones; the others are expected after an upgrade).
 */
export async function loadTuning(adapter: string): Promise<TuningTable> {
  const table = new TuningTable(adapter);
  if (!tuningEnabled()) return table;
  const where = await tuningLocation(adapter);
  const text = await readStored(where);
  if (text === null) return table;
  let stored: StoredTuning;
  try {
    stored = JSON.parse(text) as StoredTuning;
    if (typeof stored !== 'object' || stored === null || typeof stored.entries !== 'object') throw new Error('no entries');
  } catch (e) {
    console.warn(`webmtl: ignoring the unreadable tuning table ${where} (${(e as Error).message}); run \`webmtl tune\` to rebuild it`);
    return table;
  }
  if (stored.format !== FORMAT || stored.adapter !== adapter || stored.fingerprint !== table.fingerprint) return table;
  const loaded = new TuningTable(adapter, table.fingerprint, validEntries(stored.entries));
  loaded.source = where;
  return loaded;
}

function validEntries(raw: Record<string, unknown>): Record<string, TunedEntry> {
  const out: Record<string, TunedEntry> = {};
  for (const [k, v] of Object.entries(raw)) {
    const e = v as TunedEntry;
    if (e && typeof e.variant === 'string' && typeof e.ms === 'object' && e.ms !== null) out[k] = { variant: e.variant, ms: { ...e.ms } };
  }
  return out;
}

/**
 * Stores `table` for its adapter (atomically in Node: a temporary file renamed over the old one) and
 * returns where it went.
 */
export async function saveTuning(table: TuningTable): Promise<string> {
  const where = await tuningLocation(table.adapter);
  const text = `${JSON.stringify(table.toJSON(), null, 2)}\n`;
  if (!isNode()) {
    (globalThis as { localStorage?: Storage }).localStorage?.setItem(where, text);
    return where;
  }
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  const path = await nodeImport<typeof import('node:path')>('node:path');
  await fs.mkdir(path.dirname(where), { recursive: true });
  const tmp = `${where}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, where);
  table.source = where;
  return where;
}
